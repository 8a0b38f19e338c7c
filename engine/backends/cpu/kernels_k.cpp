// Decoders for the 256-element K-quant super-blocks Q4_K and Q6_K.
//   Q4_K (144 bytes): f16 d, f16 dmin, 12 bytes of packed 6-bit scales/mins
//        (eight sub-blocks of 32), 128 bytes of nibbles. Each 32-byte group g
//        holds sub-block 2g in its low nibbles and 2g+1 in its high nibbles;
//        x = d * scale * q - dmin * min.
//   Q6_K (210 bytes): 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits),
//        16 int8 scales (sub-blocks of 16), f16 d at the end. Each half of
//        128 elements uses 64 bytes of ql and 32 of qh: element l (l < 32)
//        of quarter k takes nibble (k / 2) of ql[l + 32 * (k % 2)] and bits
//        2k..2k+1 of qh[l]; x = d * scale * (q - 32).
#include "engine/backends/cpu/kernels.h"
#include "engine/backends/cpu/simd.h"

namespace halo::cpu {
namespace {

void k4_scale_min(int j, const uint8_t* packed, int* scale, int* min) {
  if (j < 4) {
    *scale = packed[j] & 63;
    *min = packed[j + 4] & 63;
  } else {
    *scale = (packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4);
    *min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
  }
}

}  // namespace

void decode_q4_k(const uint8_t* src, float* dst, int64_t n) {
#if HALO_CPU_AVX512
  const __m512i low_mask = _mm512_set1_epi32(0x0f);
  for (int64_t b = 0; b < n / 256; ++b, src += 144) {
    const float d = load_half(src), dmin = load_half(src + 2);
    const uint8_t* packed = src + 4;
    const uint8_t* qs = src + 16;
    for (int g = 0; g < 4; ++g, qs += 32, dst += 64) {
      int sc0, m0, sc1, m1;
      k4_scale_min(2 * g, packed, &sc0, &m0);
      k4_scale_min(2 * g + 1, packed, &sc1, &m1);
      const __m512 d0 = _mm512_set1_ps(d * sc0), min0 = _mm512_set1_ps(dmin * m0);
      const __m512 d1 = _mm512_set1_ps(d * sc1), min1 = _mm512_set1_ps(dmin * m1);
      for (int h = 0; h < 2; ++h) {
        __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16 * h)));
        __m512 lo = _mm512_cvtepi32_ps(_mm512_and_si512(q, low_mask));
        __m512 hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(q, 4));
        _mm512_storeu_ps(dst + 16 * h, _mm512_sub_ps(_mm512_mul_ps(lo, d0), min0));
        _mm512_storeu_ps(dst + 32 + 16 * h, _mm512_sub_ps(_mm512_mul_ps(hi, d1), min1));
      }
    }
  }
#else
  dequantize_row(GgmlType::Q4_K, src, dst, n);
#endif
}

void decode_q6_k(const uint8_t* src, float* dst, int64_t n) {
#if HALO_CPU_AVX512
  const __m512i low_mask = _mm512_set1_epi32(0x0f);
  const __m512i two_bits = _mm512_set1_epi32(0x03);
  const __m512i offset = _mm512_set1_epi32(32);
  for (int64_t b = 0; b < n / 256; ++b, src += 210) {
    const float d = load_half(src + 208);
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const int8_t* scales = reinterpret_cast<const int8_t*>(src + 192);
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, scales += 8, dst += 128) {
      for (int l = 0; l < 32; l += 16) {
        auto load16 = [](const uint8_t* p) {
          return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        };
        __m512i a = load16(ql + l), c = load16(ql + l + 32), h = load16(qh + l);
        __m512i q[4] = {
            _mm512_or_si512(_mm512_and_si512(a, low_mask), _mm512_slli_epi32(_mm512_and_si512(h, two_bits), 4)),
            _mm512_or_si512(_mm512_and_si512(c, low_mask),
                            _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 2), two_bits), 4)),
            _mm512_or_si512(_mm512_srli_epi32(a, 4),
                            _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 4), two_bits), 4)),
            _mm512_or_si512(_mm512_srli_epi32(c, 4), _mm512_slli_epi32(_mm512_srli_epi32(h, 6), 4)),
        };
        const int sub = l / 16;  // scales come in sub-blocks of 16 elements
        for (int k = 0; k < 4; ++k) {
          __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(q[k], offset));
          __m512 s = _mm512_set1_ps(d * scales[sub + 2 * k]);
          _mm512_storeu_ps(dst + 32 * k + l, _mm512_mul_ps(v, s));
        }
      }
    }
  }
#else
  dequantize_row(GgmlType::Q6_K, src, dst, n);
#endif
}

}  // namespace halo::cpu
