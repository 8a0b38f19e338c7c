// CPU kernels for weight types, and the one place where the CPU backend
// dispatches on tensor type.
//
// Every weight type provides a row-segment decoder (quantized blocks -> f32).
// Matrix products (matmul.cpp) decode small pieces of weight rows into
// L1/L2-sized buffers and run f32 FMA loops on them, so weights stay
// quantized in memory. Q4_0, Q8_0, Q4_K, Q6_K, F16, BF16 and F32 have SIMD
// decoders; every other readable type goes through the reference
// halo::dequantize_row.
#pragma once
#include <cstdint>

#include "engine/quant/types.h"

namespace halo::cpu {

// Decodes n elements (a multiple of the type's block size) starting at src.
using DecodeFn = void (*)(const uint8_t* src, float* dst, int64_t n);
// sum_i w[i] * x[i] for one quantized row w of n elements, decoded in registers.
using RowDotFn = float (*)(const uint8_t* w, const float* x, int64_t n);

struct WeightKernels {
  DecodeFn decode;
  RowDotFn row_dot;  // fused decode-and-dot for one token; null: decode, then dot_f32
  uint32_t block_elems;
  uint32_t block_bytes;
  bool fast;  // a SIMD decoder (false: the reference fallback)
};

// Kernels for a type; throws halo::Error(BadModel) for unreadable types.
WeightKernels weight_kernels(GgmlType type);

// Per-family decoders (kernels_*.cpp); n is a multiple of the block size.
void decode_q4_0(const uint8_t* src, float* dst, int64_t n);
void decode_q8_0(const uint8_t* src, float* dst, int64_t n);
void decode_q4_k(const uint8_t* src, float* dst, int64_t n);
void decode_q6_k(const uint8_t* src, float* dst, int64_t n);
void decode_f16(const uint8_t* src, float* dst, int64_t n);
void decode_bf16(const uint8_t* src, float* dst, int64_t n);
void decode_f32(const uint8_t* src, float* dst, int64_t n);
float row_dot_q4_0(const uint8_t* w, const float* x, int64_t n);
float row_dot_q8_0(const uint8_t* w, const float* x, int64_t n);

// sum_i a[i] * b[i], f32 with SIMD accumulators.
float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace halo::cpu
