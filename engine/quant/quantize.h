// Quantizers used by halo-mkmodel (and tests) to write GGUF tensors.
#pragma once
#include <cstdint>
#include "engine/quant/types.h"

namespace halo {

// Quantizes n floats (a multiple of the block size) into dst, which must hold
// row_bytes(type, n). Supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K,
// Q6_K, IQ4_NL, IQ4_XS, MXFP4.
// Returns bytes written; throws halo::Error(InvalidArgument) for other types.
uint64_t quantize_row(GgmlType type, const float* src, void* dst, int64_t n);

bool can_quantize(GgmlType type);

}  // namespace halo
