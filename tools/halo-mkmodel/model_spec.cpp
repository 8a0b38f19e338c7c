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

// general.file_type values: MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2, MOSTLY_Q8_0 = 7,
// MOSTLY_Q4_K_S = 14 (all matrices Q4_K).
constexpr std::array kWeightTypes = {
    WeightType{"f16", GgmlType::F16, GgmlType::F16, 1},
    WeightType{"q8_0", GgmlType::Q8_0, GgmlType::Q8_0, 7},
    WeightType{"q4_0", GgmlType::Q4_0, GgmlType::Q8_0, 2},
    WeightType{"q4_k", GgmlType::Q4_K, GgmlType::Q8_0, 14},
};

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

uint64_t TensorSpec::rows() const {
  uint64_t rows = 1;
  for (size_t d = 1; d < dims.size(); ++d) rows *= dims[d];
  return rows;
}

std::vector<TensorSpec> llama_tensors(const Shape& s, const WeightType& t, uint64_t n_vocab) {
  const uint64_t q_dim = uint64_t{s.n_head} * s.head_dim();
  const uint64_t kv_dim = uint64_t{s.n_head_kv} * s.head_dim();
  std::vector<TensorSpec> tensors = {
      {"token_embd.weight", t.matrices, {s.n_embd, n_vocab}, Init::Normal},
      {"output_norm.weight", GgmlType::F32, {s.n_embd}, Init::Ones},
      {"output.weight", t.output, {s.n_embd, n_vocab}, Init::Normal},
  };
  for (uint32_t layer = 0; layer < s.n_layer; ++layer) {
    const std::string blk = "blk." + std::to_string(layer) + ".";
    tensors.push_back({blk + "attn_norm.weight", GgmlType::F32, {s.n_embd}, Init::Ones});
    tensors.push_back({blk + "attn_q.weight", t.matrices, {s.n_embd, q_dim}, Init::Normal});
    tensors.push_back({blk + "attn_k.weight", t.matrices, {s.n_embd, kv_dim}, Init::Normal});
    tensors.push_back({blk + "attn_v.weight", t.matrices, {s.n_embd, kv_dim}, Init::Normal});
    tensors.push_back({blk + "attn_output.weight", t.matrices, {q_dim, s.n_embd}, Init::Normal});
    tensors.push_back({blk + "ffn_norm.weight", GgmlType::F32, {s.n_embd}, Init::Ones});
    tensors.push_back({blk + "ffn_gate.weight", t.matrices, {s.n_embd, s.n_ff}, Init::Normal});
    tensors.push_back({blk + "ffn_up.weight", t.matrices, {s.n_embd, s.n_ff}, Init::Normal});
    tensors.push_back({blk + "ffn_down.weight", t.matrices, {s.n_ff, s.n_embd}, Init::Normal});
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
