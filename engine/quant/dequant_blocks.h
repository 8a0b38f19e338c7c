// Per-family block decoders behind dequantize_row() (internal to engine/quant).
// Each takes `blocks` consecutive blocks of its type and writes
// blocks * block_elems floats. Layouts are described next to each decoder.
#pragma once
#include <cstdint>
#include <cstring>

#include "engine/quant/dequant.h"

namespace halo::quant_detail {

inline float load_fp16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return fp16_to_fp32(h);
}

// 32-element formats (dequant_basic.cpp)
void dequant_q4_0(const uint8_t* src, float* dst, int64_t blocks);
void dequant_q4_1(const uint8_t* src, float* dst, int64_t blocks);
void dequant_q5_0(const uint8_t* src, float* dst, int64_t blocks);
void dequant_q5_1(const uint8_t* src, float* dst, int64_t blocks);
void dequant_q8_0(const uint8_t* src, float* dst, int64_t blocks);

// 256-element K-quant super-blocks (dequant_k.cpp)
void dequant_q2_k(const uint8_t* src, float* dst, int64_t blocks);
void dequant_q3_k(const uint8_t* src, float* dst, int64_t blocks);
void dequant_q4_k(const uint8_t* src, float* dst, int64_t blocks);
void dequant_q5_k(const uint8_t* src, float* dst, int64_t blocks);
void dequant_q6_k(const uint8_t* src, float* dst, int64_t blocks);

// Non-linear value tables (dequant_iq.cpp)
void dequant_iq4_nl(const uint8_t* src, float* dst, int64_t blocks);
void dequant_iq4_xs(const uint8_t* src, float* dst, int64_t blocks);
void dequant_mxfp4(const uint8_t* src, float* dst, int64_t blocks);

// Q4_K/Q5_K pack eight 6-bit scales and eight 6-bit mins in 12 bytes:
// bytes 0-3 hold scales 0-3 (low 6 bits), bytes 4-7 mins 0-3 (low 6 bits);
// for j >= 4 the low 4 bits come from byte j+4 (scale: low nibble, min: high
// nibble) and the top 2 bits from the spare top bits of bytes j-4 / j.
inline void k4_scale_min(int j, const uint8_t* packed, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = packed[j] & 63;
    *min = packed[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
  }
}

}  // namespace halo::quant_detail
