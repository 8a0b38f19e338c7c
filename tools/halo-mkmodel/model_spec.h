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

struct WeightType {
  std::string_view name;  // as given on the command line: "q4_0"
  GgmlType matrices;      // attention and FFN matrices, token embedding
  GgmlType output;        // output matrix: Q8_0 for the 4-bit types
  uint32_t file_type;     // general.file_type (llama.cpp's llama_ftype)
};

std::optional<WeightType> find_weight_type(std::string_view name);  // case-insensitive
std::string weight_type_names();  // "f16, q8_0, q4_0, q4_k"

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
