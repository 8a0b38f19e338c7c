// Per-type block encoders behind quantize_row() (internal to engine/quant).
// Each reads blocks * block_elems finite floats and writes `blocks` blocks.
#pragma once
#include <cstdint>

namespace halo::quant_detail {

void quantize_q8_0(const float* src, uint8_t* dst, int64_t blocks);
void quantize_q4_0(const float* src, uint8_t* dst, int64_t blocks);
void quantize_q4_k(const float* src, uint8_t* dst, int64_t blocks);  // quantize_k.cpp
void quantize_q5_k(const float* src, uint8_t* dst, int64_t blocks);
void quantize_q6_k(const float* src, uint8_t* dst, int64_t blocks);  // quantize_signed.cpp
void quantize_iq4_nl(const float* src, uint8_t* dst, int64_t blocks);
void quantize_iq4_xs(const float* src, uint8_t* dst, int64_t blocks);
void quantize_mxfp4(const float* src, uint8_t* dst, int64_t blocks);

}  // namespace halo::quant_detail
