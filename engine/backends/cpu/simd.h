// Small SIMD helpers shared by the CPU kernels (internal to engine/backends/cpu).
#pragma once
#include <cstdint>
#include <cstring>

#include "engine/quant/dequant.h"

#if defined(__AVX512F__) && defined(__AVX512BW__)
#define HALO_CPU_AVX512 1
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
