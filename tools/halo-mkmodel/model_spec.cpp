#include "tools/halo-mkmodel/model_spec.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "engine/error.h"

namespace halo::mkmodel {
namespace {

// (n_embd, layers, heads, KV heads, FFN) of the shapes benchmarks refer to.
constexpr std::array kShapes = {
    Shape{"tiny", 256, 2, 4, 2, 768},
    Shape{"1b", 2048, 16, 32, 8, 8192},
    Shape{"7b", 4096, 32, 32, 32, 11008},
    Shape{"8b", 4096, 32, 32, 8, 14336},
};

// general.file_type values (llama_ftype): MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2,
// MOSTLY_Q8_0 = 7, MOSTLY_Q4_K_S = 14 (here all matrices Q4_K), MOSTLY_Q4_K_M
// = 15, MOSTLY_Q5_K_M = 17, MOSTLY_Q6_K = 18, MOSTLY_IQ4_XS = 30,
// MOSTLY_BF16 = 32, MOSTLY_MXFP4_MOE = 38. The reference gives the output
// matrix of its K and IQ mixtures Q6_K; q4_0 and q4_k keep the Q8_0 output
// the earlier benchmarks used.
constexpr std::array kWeightTypes = {
    WeightType{"f16", GgmlType::F16, GgmlType::F16, 1},
    WeightType{"bf16", GgmlType::BF16, GgmlType::BF16, 32},
    WeightType{"q8_0", GgmlType::Q8_0, GgmlType::Q8_0, 7},
    WeightType{"q6_k", GgmlType::Q6_K, GgmlType::Q6_K, 18},
    WeightType{"q5_k_m", GgmlType::Q5_K, GgmlType::Q6_K, 17, Mixture::KQuantM, GgmlType::Q6_K},
    WeightType{"q4_k_m", GgmlType::Q4_K, GgmlType::Q6_K, 15, Mixture::KQuantM, GgmlType::Q6_K},
    WeightType{"q4_k", GgmlType::Q4_K, GgmlType::Q8_0, 14},
    WeightType{"q4_0", GgmlType::Q4_0, GgmlType::Q8_0, 2},
    WeightType{"iq4_xs", GgmlType::IQ4_XS, GgmlType::Q6_K, 30, Mixture::Iq4Xs, GgmlType::Q5_K},
    WeightType{"mxfp4", GgmlType::MXFP4, GgmlType::Q8_0, 38, Mixture::FfnOnly},
};

enum class Role { TokenEmbd, Output, AttnQ, AttnK, AttnV, AttnOutput, FfnGate, FfnUp, FfnDown };

// The type of one matrix under the mixture of t.
GgmlType matrix_type(const WeightType& t, const Shape& s, Role role, uint32_t layer) {
  if (role == Role::Output) return t.output;
  const bool ffn = role == Role::FfnGate || role == Role::FfnUp || role == Role::FfnDown;
  switch (t.mixture) {
    case Mixture::Uniform: return t.matrices;
    case Mixture::FfnOnly: return ffn ? t.matrices : t.output;
    case Mixture::KQuantM:
      if ((role == Role::AttnV || role == Role::FfnDown) && use_more_bits(layer, s.n_layer)) return t.more_bits;
      return t.matrices;
    case Mixture::Iq4Xs:
      if (role == Role::AttnV && s.n_head / s.n_head_kv >= 4) return t.more_bits;
      if (role == Role::FfnDown && layer < s.n_layer / 8) return t.more_bits;
      return t.matrices;
  }
  return t.matrices;
}

template <typename Table>
std::string joined_names(const Table& table) {
  std::string out;
  for (const auto& entry : table) out += (out.empty() ? "" : ", ") + std::string(entry.name);
  return out;
}

}  // namespace

std::optional<Shape> find_shape(std::string_view name) {
  for (const Shape& s : kShapes) {
    if (s.name == name) return s;
  }
  return std::nullopt;
}

std::string shape_names() { return joined_names(kShapes); }

std::optional<WeightType> find_weight_type(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const WeightType& t : kWeightTypes) {
    if (t.name == lower) return t;
  }
  return std::nullopt;
}

std::string weight_type_names() { return joined_names(kWeightTypes); }

bool use_more_bits(uint32_t layer, uint32_t n_layer) {
  const uint32_t eighth = n_layer / 8;
  return layer < eighth || layer >= 7 * n_layer / 8 || (layer - eighth) % 3 == 2;
}

uint64_t TensorSpec::rows() const {
  uint64_t rows = 1;
  for (size_t d = 1; d < dims.size(); ++d) rows *= dims[d];
  return rows;
}

std::vector<TensorSpec> llama_tensors(const Shape& s, const WeightType& t, uint64_t n_vocab) {
  const uint64_t q_dim = uint64_t{s.n_head} * s.head_dim();
  const uint64_t kv_dim = uint64_t{s.n_head_kv} * s.head_dim();
  auto type = [&](Role role, uint32_t layer) { return matrix_type(t, s, role, layer); };
  std::vector<TensorSpec> tensors = {
      {"token_embd.weight", type(Role::TokenEmbd, 0), {s.n_embd, n_vocab}, Init::Normal},
      {"output_norm.weight", GgmlType::F32, {s.n_embd}, Init::Ones},
      {"output.weight", type(Role::Output, 0), {s.n_embd, n_vocab}, Init::Normal},
  };
  for (uint32_t layer = 0; layer < s.n_layer; ++layer) {
    const std::string blk = "blk." + std::to_string(layer) + ".";
    tensors.push_back({blk + "attn_norm.weight", GgmlType::F32, {s.n_embd}, Init::Ones});
    tensors.push_back({blk + "attn_q.weight", type(Role::AttnQ, layer), {s.n_embd, q_dim}, Init::Normal});
    tensors.push_back({blk + "attn_k.weight", type(Role::AttnK, layer), {s.n_embd, kv_dim}, Init::Normal});
    tensors.push_back({blk + "attn_v.weight", type(Role::AttnV, layer), {s.n_embd, kv_dim}, Init::Normal});
    tensors.push_back({blk + "attn_output.weight", type(Role::AttnOutput, layer), {q_dim, s.n_embd}, Init::Normal});
    tensors.push_back({blk + "ffn_norm.weight", GgmlType::F32, {s.n_embd}, Init::Ones});
    tensors.push_back({blk + "ffn_gate.weight", type(Role::FfnGate, layer), {s.n_embd, s.n_ff}, Init::Normal});
    tensors.push_back({blk + "ffn_up.weight", type(Role::FfnUp, layer), {s.n_embd, s.n_ff}, Init::Normal});
    tensors.push_back({blk + "ffn_down.weight", type(Role::FfnDown, layer), {s.n_ff, s.n_embd}, Init::Normal});
  }
  for (const TensorSpec& spec : tensors) {
    if (!row_bytes(spec.type, spec.dims[0])) {
      throw Error(ErrorKind::InvalidArgument,
                  spec.name + ": row length " + std::to_string(spec.dims[0]) + " does not fit " +
                      std::string(type_info(spec.type).name) + " blocks of " +
                      std::to_string(type_info(spec.type).block_elems));
    }
  }
  return tensors;
}

}  // namespace halo::mkmodel
