// Tensor element types as numbered in GGUF (ggml_type), with their block layout.
// Type dispatch for every backend starts from type_info().
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace halo {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21,
  IQ2_S = 22, IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28,
  IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct TypeInfo {
  GgmlType type;
  std::string_view name;    // "q4_0", as llama.cpp prints it
  uint32_t block_elems;     // elements per block (1 for plain floats)
  uint32_t block_bytes;     // bytes per block
  bool dequantizable;       // the engine can read it (dequantize_row supports it)
};

// Layout of a raw GGUF type id, or nullopt when the id is not a known ggml type.
std::optional<TypeInfo> type_info(uint32_t raw_type);
TypeInfo type_info(GgmlType type);

// Bytes of a row of n elements; nullopt if n is not a multiple of the block
// size or the size overflows.
std::optional<uint64_t> row_bytes(GgmlType type, uint64_t n);

}  // namespace halo
