// Dequantization of the K-quant super-blocks (256 elements each). A
// super-block carries fp16 super-scales and small per-sub-block scales; the
// arithmetic below keeps the reference's order of float operations so the
// results are bit-exact.
#include "engine/quant/dequant_blocks.h"

namespace halo::quant_detail {
namespace {
constexpr int kQK = 256;
}  // namespace

// block_q2_K (84 bytes): u8 scales[16] (low nibble scale, high nibble min),
// u8 qs[64] (2-bit quants), fp16 d, fp16 dmin.
// 16 sub-blocks of 16: value = d*scale * q - dmin*min.
void dequant_q2_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 84) {
    const uint8_t* scales = src;
    const uint8_t* q = src + 16;
    const float d = load_fp16(src + 80);
    const float dmin = load_fp16(src + 82);
    int is = 0;
    // Each 32-byte group of qs holds 128 elements: four 2-bit planes
    // (shift 0, 2, 4, 6), each plane two sub-blocks of 16.
    for (int half = 0; half < kQK / 128; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {
          const uint8_t sc = scales[is++];
          const float dl = d * static_cast<float>(sc & 0x0f);
          const float ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l) {
            const int v = (q[l + 16 * part] >> shift) & 3;
            *dst++ = dl * static_cast<float>(v) - ml;
          }
        }
      }
    }
  }
}

namespace {
// Q3_K packs sixteen 6-bit scales in 12 bytes: the low 4 bits of scales 0-7
// and 8-15 are the nibbles of bytes 0-7, the top 2 bits come from bytes 8-11
// (two bits per scale). Values are stored with a +32 bias.
void unpack_q3_scales(const uint8_t* packed, int8_t* scales) {
  for (int i = 0; i < 16; ++i) {
    const int low = (i < 8) ? (packed[i] & 0x0f) : (packed[i - 8] >> 4);
    const int high = (packed[8 + (i % 4)] >> (2 * (i / 4))) & 3;
    scales[i] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}
}  // namespace

// block_q3_K (110 bytes): u8 hmask[32] (third bit), u8 qs[64] (low 2 bits),
// u8 scales[12] (packed 6-bit), fp16 d. value = d*scale * (q3 - 4), where a
// clear hmask bit subtracts 4.
void dequant_q3_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 110) {
    const uint8_t* hmask = src;
    const uint8_t* q = src + 32;
    int8_t scales[16];
    unpack_q3_scales(src + 96, scales);
    const float d = load_fp16(src + 108);
    int is = 0;
    uint8_t mask = 1;
    for (int half = 0; half < kQK / 128; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, mask = static_cast<uint8_t>(mask << 1)) {
        for (int part = 0; part < 2; ++part) {
          const float dl = d * static_cast<float>(scales[is++]);
          for (int l = 0; l < 16; ++l) {
            const int idx = l + 16 * part;
            const int low = (q[idx] >> shift) & 3;
            const int v = low - ((hmask[idx] & mask) ? 0 : 4);
            *dst++ = dl * static_cast<float>(v);
          }
        }
      }
    }
  }
}

// block_q4_K (144 bytes): fp16 d, fp16 dmin, u8 scales[12] (packed 6-bit
// scales and mins), u8 qs[128]. 8 sub-blocks of 32: value = d*sc * q - dmin*m.
// Each 32 bytes of qs hold two sub-blocks: low nibbles, then high nibbles.
void dequant_q4_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 144) {
    const float d = load_fp16(src);
    const float dmin = load_fp16(src + 2);
    const uint8_t* packed = src + 4;
    const uint8_t* q = src + 16;
    for (int pair = 0; pair < 4; ++pair, q += 32) {
      uint8_t sc, m;
      k4_scale_min(2 * pair, packed, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      k4_scale_min(2 * pair + 1, packed, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *dst++ = d1 * static_cast<float>(q[l] & 0x0f) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

// block_q5_K (176 bytes): fp16 d, fp16 dmin, u8 scales[12], u8 qh[32] (fifth
// bits: bit 2k / 2k+1 of qh[l] for sub-blocks 2k / 2k+1), u8 qs[128].
void dequant_q5_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 176) {
    const float d = load_fp16(src);
    const float dmin = load_fp16(src + 2);
    const uint8_t* packed = src + 4;
    const uint8_t* qh = src + 16;
    const uint8_t* ql = src + 48;
    for (int pair = 0; pair < 4; ++pair, ql += 32) {
      uint8_t sc, m;
      k4_scale_min(2 * pair, packed, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      k4_scale_min(2 * pair + 1, packed, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      const uint8_t bit_lo = static_cast<uint8_t>(1u << (2 * pair));
      const uint8_t bit_hi = static_cast<uint8_t>(2u << (2 * pair));
      for (int l = 0; l < 32; ++l) {
        const int v = (ql[l] & 0x0f) + ((qh[l] & bit_lo) ? 16 : 0);
        *dst++ = d1 * static_cast<float>(v) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        const int v = (ql[l] >> 4) + ((qh[l] & bit_hi) ? 16 : 0);
        *dst++ = d2 * static_cast<float>(v) - m2;
      }
    }
  }
}

// block_q6_K (210 bytes): u8 ql[128] (low 4 bits), u8 qh[64] (high 2 bits),
// i8 scales[16], fp16 d. value = d * scale * (q6 - 32). Per 128 elements:
// 64 bytes of ql and 32 of qh; element l + 32k takes its nibble from
// ql[l + 32*(k%2)] (low nibble for k < 2) and bits 2k..2k+1 of qh[l].
void dequant_q6_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 210) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float d = load_fp16(src + 208);
    for (int half = 0; half < kQK / 128; ++half, ql += 64, qh += 32, sc += 8, dst += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        dst[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
        dst[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        dst[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        dst[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace halo::quant_detail
