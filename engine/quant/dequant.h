// Reference dequantization: bit-exact with the GGUF reference implementation.
#pragma once
#include <cstdint>
#include "engine/quant/types.h"

namespace halo {

// Dequantizes n elements (a multiple of the type's block size) from src to dst.
// Throws halo::Error(BadModel) for types the engine cannot read.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);

float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);  // round to nearest even
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);  // round to nearest even

}  // namespace halo
