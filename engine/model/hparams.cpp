// Hyperparameters from GGUF metadata. Keys follow llama.cpp's naming:
// "<arch>.embedding_length", "<arch>.attention.head_count", ...
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/model/loader.h"

namespace halo::model_detail {
namespace {

constexpr uint64_t kMinTensorsPerBlock = 9;  // 2 norms, Q, K, V, O, gate, up, down

// Collects every problem with the metadata so one error lists them all.
class MetadataReader {
 public:
  MetadataReader(const gguf::File& file, std::string prefix) : file_(file), prefix_(std::move(prefix)) {}

  // A positive integer "<arch>.<key>"; fallback when absent (0: required).
  uint32_t count(const std::string& key, uint32_t fallback = 0) {
    const std::string full = prefix_ + key;
    const gguf::Value* v = file_.find(full);
    if (!v) {
      if (fallback == 0) problems_.push_back("missing " + full);
      return fallback;
    }
    if (!v->is_integer() || v->i <= 0 || v->u > 0xffffffffu) {
      problems_.push_back(full + " must be a positive integer (found " +
                          (v->type == gguf::ValueType::Array ? std::string("an array")
                                                              : std::string(gguf::value_type_name(v->type))) +
                          ")");
      return fallback;
    }
    return static_cast<uint32_t>(v->u);
  }

  // A positive number "<arch>.<key>", fallback when absent.
  float positive(const std::string& key, float fallback) {
    const std::string full = prefix_ + key;
    const gguf::Value* v = file_.find(full);
    if (!v) return fallback;
    auto value = file_.get_float(full);
    if (!value || !(*value > 0)) {
      problems_.push_back(full + " must be a positive number");
      return fallback;
    }
    return static_cast<float>(*value);
  }

  void problem(std::string p) { problems_.push_back(std::move(p)); }

  void throw_if_any() const {
    if (problems_.empty()) return;
    std::string msg = file_.path() + ": bad hyperparameters: ";
    for (size_t i = 0; i < problems_.size(); ++i) msg += (i ? "; " : "") + problems_[i];
    throw Error(ErrorKind::BadModel, msg);
  }

 private:
  const gguf::File& file_;
  std::string prefix_;
  std::vector<std::string> problems_;
};

Arch parse_arch(const gguf::File& file, const std::string& name) {
  if (name == "llama") return Arch::Llama;
  if (name == "qwen2") return Arch::Qwen2;
  if (name == "qwen3") return Arch::Qwen3;
  throw Error(ErrorKind::BadModel, file.path() + ": unsupported architecture '" + name +
                                       "' (supported: " + kSupportedArchs + ")");
}

}  // namespace

HParams read_hparams(const gguf::File& file) {
  auto arch_name = file.get_string("general.architecture");
  if (!arch_name) {
    throw Error(ErrorKind::BadModel, file.path() + ": no general.architecture (supported: " +
                                         std::string(kSupportedArchs) + ")");
  }
  HParams hp;
  hp.arch_name = *arch_name;
  hp.arch = parse_arch(file, hp.arch_name);

  MetadataReader md(file, hp.arch_name + ".");
  hp.n_ctx_train = md.count("context_length");
  hp.n_embd = md.count("embedding_length");
  hp.n_layer = md.count("block_count");
  hp.n_ff = md.count("feed_forward_length");
  hp.n_head = md.count("attention.head_count");
  hp.n_head_kv = md.count("attention.head_count_kv", hp.n_head ? hp.n_head : 1);
  const uint32_t default_head_dim = hp.n_head && hp.n_embd % hp.n_head == 0 ? hp.n_embd / hp.n_head : 1;
  hp.head_dim = md.count("attention.key_length", default_head_dim);
  const uint32_t value_dim = md.count("attention.value_length", hp.head_dim);
  hp.rope_dim = md.count("rope.dimension_count", hp.head_dim);
  hp.rope_base = md.positive("rope.freq_base", 10000.0f);
  hp.rms_eps = md.positive("attention.layer_norm_rms_epsilon", 1e-5f);

  // Each block has at least 9 tensors; checking the count first keeps a
  // forged block_count from costing a tensor lookup per block.
  if (hp.n_layer > file.tensors().size() / kMinTensorsPerBlock)
    md.problem("block_count " + std::to_string(hp.n_layer) + " needs at least " +
               std::to_string(uint64_t{hp.n_layer} * kMinTensorsPerBlock) + " tensors but the file has " +
               std::to_string(file.tensors().size()));
  if (hp.n_head && hp.n_head_kv && hp.n_head % hp.n_head_kv != 0)
    md.problem("head_count " + std::to_string(hp.n_head) + " is not a multiple of head_count_kv " +
               std::to_string(hp.n_head_kv));
  if (value_dim != hp.head_dim) md.problem("value_length differs from key_length (not supported)");
  if (hp.rope_dim > hp.head_dim || hp.rope_dim % 2 != 0)
    md.problem("rope.dimension_count " + std::to_string(hp.rope_dim) + " must be even and at most the head size " +
               std::to_string(hp.head_dim));
  if (hp.head_dim == 1 && !file.find(hp.arch_name + ".attention.key_length"))
    md.problem("embedding_length is not a multiple of head_count and no attention.key_length is given");
  md.throw_if_any();

  hp.rope_layout = hp.arch == Arch::Llama ? RopeLayout::Normal : RopeLayout::NeoX;
  hp.qkv_bias = hp.arch == Arch::Qwen2;
  hp.qk_norm = hp.arch == Arch::Qwen3;
  return hp;
}

}  // namespace halo::model_detail
