// Dequantization of the formats whose 4-bit codes index a fixed non-linear
// table: IQ4_NL, IQ4_XS and MXFP4 (OCP microscaling FP4 with an E8M0 scale).
#include "engine/quant/dequant_blocks.h"

namespace halo::quant_detail {
namespace {

// The IQ4 code book: 16 values on a curve denser near zero.
constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                   1,    13,   25,  38,  53,  69,  89,  113};

// FP4 (E2M1) values doubled so they are integers: 0, 0.5, 1, 1.5, 2, 3, 4, 6
// and their negatives. The halving is folded into the scale below.
constexpr int8_t kFp4Doubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// E8M0 scale 2^(e - 127), halved to undo the doubling of kFp4Doubled. For
// e < 2 the result is an fp32 subnormal, built directly from its bits.
float e8m0_to_fp32_half(uint8_t e) {
  const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace

// block_iq4_nl (18 bytes): fp16 d, u8 qs[16]; value = d * table[nibble]
void dequant_iq4_nl(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 18, dst += 32) {
    const float d = load_fp16(src);
    const uint8_t* qs = src + 2;
    for (int j = 0; j < 16; ++j) {
      dst[j] = d * static_cast<float>(kIq4Values[qs[j] & 0x0f]);
      dst[j + 16] = d * static_cast<float>(kIq4Values[qs[j] >> 4]);
    }
  }
}

// block_iq4_xs (136 bytes): fp16 d, u16 scales_h, u8 scales_l[4], u8 qs[128].
// 8 sub-blocks of 32 with a 6-bit scale (bias 32): low 4 bits are nibble
// ib%2 of scales_l[ib/2], high 2 bits are bits 2ib..2ib+1 of scales_h.
void dequant_iq4_xs(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 136) {
    const float d = load_fp16(src);
    const uint32_t scales_h = static_cast<uint32_t>(src[2]) | static_cast<uint32_t>(src[3]) << 8;
    const uint8_t* scales_l = src + 4;
    const uint8_t* qs = src + 8;
    for (int ib = 0; ib < 8; ++ib, qs += 16, dst += 32) {
      const int low = (scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f;
      const int high = static_cast<int>((scales_h >> (2 * ib)) & 3u);
      const float dl = d * static_cast<float>((low | (high << 4)) - 32);
      for (int j = 0; j < 16; ++j) {
        dst[j] = dl * static_cast<float>(kIq4Values[qs[j] & 0x0f]);
        dst[j + 16] = dl * static_cast<float>(kIq4Values[qs[j] >> 4]);
      }
    }
  }
}

// block_mxfp4 (17 bytes): u8 e (E8M0 shared exponent), u8 qs[16] (FP4 codes,
// element j low nibble, element j + 16 high nibble).
void dequant_mxfp4(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 17, dst += 32) {
    const float d = e8m0_to_fp32_half(src[0]);
    const uint8_t* qs = src + 1;
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>(kFp4Doubled[qs[j] & 0x0f]) * d;
      dst[j + 16] = static_cast<float>(kFp4Doubled[qs[j] >> 4]) * d;
    }
  }
}

}  // namespace halo::quant_detail
