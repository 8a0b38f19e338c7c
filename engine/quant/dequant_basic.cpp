// Dequantization of the 32-element block formats. Each block stores a scale d
// (fp16) and 32 small integers q; the value is q * d (+ m for the _1 types).
// Nibble order: byte j holds element j in its low nibble and element j + 16
// in its high nibble.
#include "engine/quant/dequant_blocks.h"

namespace halo::quant_detail {
namespace {
constexpr int kBlock = 32;
constexpr int kHalf = kBlock / 2;

// Q5 types keep the fifth bit of all 32 elements in one little-endian u32:
// bit j for element j.
uint32_t load_high_bits(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}
}  // namespace

// block_q4_0 (18 bytes): fp16 d, u8 qs[16]; value = (nibble - 8) * d
void dequant_q4_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 18, dst += kBlock) {
    const float d = load_fp16(src);
    const uint8_t* qs = src + 2;
    for (int j = 0; j < kHalf; ++j) {
      dst[j] = static_cast<float>((qs[j] & 0x0f) - 8) * d;
      dst[j + kHalf] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
  }
}

// block_q4_1 (20 bytes): fp16 d, fp16 m, u8 qs[16]; value = nibble * d + m
void dequant_q4_1(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 20, dst += kBlock) {
    const float d = load_fp16(src);
    const float m = load_fp16(src + 2);
    const uint8_t* qs = src + 4;
    for (int j = 0; j < kHalf; ++j) {
      dst[j] = static_cast<float>(qs[j] & 0x0f) * d + m;
      dst[j + kHalf] = static_cast<float>(qs[j] >> 4) * d + m;
    }
  }
}

// block_q5_0 (22 bytes): fp16 d, u32 qh, u8 qs[16]; value = (q5 - 16) * d
void dequant_q5_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 22, dst += kBlock) {
    const float d = load_fp16(src);
    const uint32_t qh = load_high_bits(src + 2);
    const uint8_t* qs = src + 6;
    for (int j = 0; j < kHalf; ++j) {
      const int lo = (qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + kHalf)) & 1u) << 4);
      dst[j] = static_cast<float>(lo - 16) * d;
      dst[j + kHalf] = static_cast<float>(hi - 16) * d;
    }
  }
}

// block_q5_1 (24 bytes): fp16 d, fp16 m, u32 qh, u8 qs[16]; value = q5 * d + m
void dequant_q5_1(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 24, dst += kBlock) {
    const float d = load_fp16(src);
    const float m = load_fp16(src + 2);
    const uint32_t qh = load_high_bits(src + 4);
    const uint8_t* qs = src + 8;
    for (int j = 0; j < kHalf; ++j) {
      const int lo = (qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + kHalf)) & 1u) << 4);
      dst[j] = static_cast<float>(lo) * d + m;
      dst[j + kHalf] = static_cast<float>(hi) * d + m;
    }
  }
}

// block_q8_0 (34 bytes): fp16 d, i8 qs[32]; value = q * d
void dequant_q8_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 34, dst += kBlock) {
    const float d = load_fp16(src);
    const int8_t* qs = reinterpret_cast<const int8_t*>(src + 2);
    for (int j = 0; j < kBlock; ++j) dst[j] = static_cast<float>(qs[j]) * d;
  }
}

}  // namespace halo::quant_detail
