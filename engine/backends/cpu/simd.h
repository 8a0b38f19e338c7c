// Small SIMD helpers shared by the CPU kernels (internal to engine/backends/cpu).
#pragma once
#include <cstdint>
#include <cstring>

#include "engine/quant/dequant.h"

#if defined(__AVX512F__) && defined(__AVX512BW__)
#define HALO_CPU_AVX512 1
// GCC 12's own AVX-512 headers pass _mm512_undefined_*() as the masked-off
// source of unmasked intrinsics, which its flow analysis reports as
// uninitialised once inlined; the values are never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define HALO_CPU_AVX2 1
#include <immintrin.h>
#endif

namespace halo::cpu {

// An IEEE half stored little-endian at p (unaligned), as f32.
inline float load_half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  return fp16_to_fp32(h);
#endif
}

#if HALO_CPU_AVX512
inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

// e^x for 16 lanes, within about 2 ulp of expf: x = n ln2 + r with |r| <= ln2/2,
// e^r by its Taylor series to degree 7, then scaled by 2^n (scalef handles
// underflow). Inputs are clamped to [-104, 88.7], where expf is 0 and finite.
inline __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(88.72f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln2, high bits
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);     // ln2, low bits
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}
#endif
#if HALO_CPU_AVX2
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

}  // namespace halo::cpu
