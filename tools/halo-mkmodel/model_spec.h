// What halo-mkmodel writes: the named shapes and weight types, and the list
// of llama-architecture tensors for a shape (names and dims as llama.cpp).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/quant/types.h"

namespace halo::mkmodel {

struct Shape {
  std::string_view name;
  uint32_t n_embd;
  uint32_t n_layer;
  uint32_t n_head;
  uint32_t n_head_kv;
  uint32_t n_ff;
  uint32_t head_dim() const { return n_embd / n_head; }
};

std::optional<Shape> find_shape(std::string_view name);
std::string shape_names();  // "tiny, 1b, 7b, 8b"

// How a type's tensors differ from its main type, following the reference's
// quantization mixtures for a dense llama model (llama-quantize, no
// importance matrix).
enum class Mixture {
  Uniform,   // every matrix in `matrices`
  KQuantM,   // Q4_K_M / Q5_K_M: attn_v and ffn_down in `more_bits` (Q6_K) on the layers use_more_bits picks
  Iq4Xs,     // IQ4_XS: attn_v in `more_bits` (Q5_K) when 4+ query heads share a KV head, ffn_down in the first eighth of the layers
  FfnOnly,   // MXFP4: the FFN matrices in `matrices` (as the experts of gpt-oss), the others in `output`
};

struct WeightType {
  std::string_view name;  // as given on the command line: "q4_0"
  GgmlType matrices;      // attention and FFN matrices, token embedding
  GgmlType output;        // output matrix
  uint32_t file_type;     // general.file_type (llama.cpp's llama_ftype)
  Mixture mixture = Mixture::Uniform;
  GgmlType more_bits = GgmlType::F32;  // the promoted type of the mixture
};

std::optional<WeightType> find_weight_type(std::string_view name);  // case-insensitive
std::string weight_type_names();  // "f16, bf16, q8_0, ..."

// The reference's layer choice for more bits in the _M mixtures: the first
// and last eighth of the layers and every third one between.
bool use_more_bits(uint32_t layer, uint32_t n_layer);

enum class Init { Normal, Ones };  // random weights (std 0.02) or norm gains of 1

struct TensorSpec {
  std::string name;
  GgmlType type;
  std::vector<uint64_t> dims;  // dims[0]: input features (row length)
  Init init;
  uint64_t rows() const;
};

// Every tensor of a llama model, in llama.cpp's order. Throws
// halo::Error(InvalidArgument) if a row length does not fit the type's blocks.
std::vector<TensorSpec> llama_tensors(const Shape& shape, const WeightType& type, uint64_t n_vocab);

}  // namespace halo::mkmodel
