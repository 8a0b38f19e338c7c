// The weight tensors each architecture needs and their validation.
#include <algorithm>
#include <string>

#include "engine/error.h"
#include "engine/model/loader.h"

namespace halo::model_detail {
namespace {

std::string shape_text(const uint64_t* ne, uint32_t n_dims) {
  std::string s = "[";
  for (uint32_t i = 0; i < n_dims; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// A problem with one present tensor, or "" when it is usable.
std::string check_tensor(const gguf::TensorInfo& t, const TensorSpec& spec) {
  const TypeInfo info = type_info(t.type);
  if (!info.dequantizable) return spec.name + " has unsupported type " + std::string(info.name);
  const bool shape_ok = t.ne[0] == spec.ne0 && (spec.ne1 == 0 || t.ne[1] == spec.ne1) && t.ne[2] == 1 && t.ne[3] == 1;
  if (!shape_ok) {
    const uint64_t want[2] = {spec.ne0, spec.ne1};
    return spec.name + " has shape " + shape_text(t.ne, t.n_dims) + ", expected " +
           shape_text(want, spec.ne1 == 1 ? 1 : 2);
  }
  if (t.ne[0] % info.block_elems != 0)
    return spec.name + " rows of " + std::to_string(t.ne[0]) + " are not a whole number of " +
           std::string(info.name) + " blocks";
  return "";
}

}  // namespace

std::vector<TensorSpec> tensor_specs(const HParams& hp) {
  const uint64_t embd = hp.n_embd, q_dim = uint64_t{hp.n_head} * hp.head_dim;
  const uint64_t kv_dim = uint64_t{hp.n_head_kv} * hp.head_dim;
  // n_vocab 0 (no embedding found) accepts any row count; the embedding itself is reported missing.
  std::vector<TensorSpec> specs = {
      {"token_embd.weight", embd, hp.n_vocab},
      {"output_norm.weight", embd, 1},
      {"output.weight", embd, hp.n_vocab, true},
      {"rope_freqs.weight", hp.rope_dim / 2, 1, true},
  };
  for (uint32_t i = 0; i < hp.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    specs.push_back({p + "attn_norm.weight", embd, 1});
    specs.push_back({p + "attn_q.weight", embd, q_dim});
    specs.push_back({p + "attn_k.weight", embd, kv_dim});
    specs.push_back({p + "attn_v.weight", embd, kv_dim});
    specs.push_back({p + "attn_output.weight", q_dim, embd});
    if (hp.qkv_bias) {
      specs.push_back({p + "attn_q.bias", q_dim, 1});
      specs.push_back({p + "attn_k.bias", kv_dim, 1});
      specs.push_back({p + "attn_v.bias", kv_dim, 1});
    }
    if (hp.qk_norm) {
      specs.push_back({p + "attn_q_norm.weight", hp.head_dim, 1});
      specs.push_back({p + "attn_k_norm.weight", hp.head_dim, 1});
    }
    specs.push_back({p + "ffn_norm.weight", embd, 1});
    specs.push_back({p + "ffn_gate.weight", embd, hp.n_ff});
    specs.push_back({p + "ffn_up.weight", embd, hp.n_ff});
    specs.push_back({p + "ffn_down.weight", hp.n_ff, embd});
  }
  return specs;
}

// Longer lists are cut: the first names tell what kind of file it is.
constexpr size_t kMaxListed = 24;

std::vector<const gguf::TensorInfo*> find_tensors(const gguf::File& file, const std::vector<TensorSpec>& specs) {
  std::vector<const gguf::TensorInfo*> found;
  std::vector<std::string> missing, wrong;
  for (const TensorSpec& spec : specs) {
    const gguf::TensorInfo* t = file.tensor(spec.name);
    found.push_back(t);
    if (!t) {
      if (!spec.optional) missing.push_back(spec.name);
      continue;
    }
    if (std::string problem = check_tensor(*t, spec); !problem.empty()) wrong.push_back(problem);
  }
  if (missing.empty() && wrong.empty()) return found;
  std::string msg = file.path() + ": ";
  if (!missing.empty()) {
    msg += std::to_string(missing.size()) + " missing tensor" + (missing.size() > 1 ? "s" : "") + ": ";
    const size_t shown = std::min(missing.size(), kMaxListed);
    for (size_t i = 0; i < shown; ++i) msg += (i ? ", " : "") + missing[i];
    if (shown < missing.size()) msg += " and " + std::to_string(missing.size() - shown) + " more";
    if (!wrong.empty()) msg += "; ";
  }
  for (size_t i = 0; i < wrong.size(); ++i) msg += (i ? "; " : "") + wrong[i];
  throw Error(ErrorKind::BadModel, msg);
}

}  // namespace halo::model_detail
