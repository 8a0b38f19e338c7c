// Decoders for the 32-element block types Q4_0 and Q8_0.
//   Q4_0 block (18 bytes): f16 d, 16 bytes of nibbles; element j < 16 is the
//        low nibble of byte j, element j + 16 its high nibble; x = (q - 8) * d.
//   Q8_0 block (34 bytes): f16 d, 32 int8 q; x = q * d.
#include <algorithm>
#include <cstring>

#include "engine/backends/cpu/kernels.h"
#include "engine/backends/cpu/simd.h"

namespace halo::cpu {

void decode_q4_0(const uint8_t* src, float* dst, int64_t n) {
#if HALO_CPU_AVX512
  const __m512i low_mask = _mm512_set1_epi32(0x0f);
  const __m512i eight = _mm512_set1_epi32(8);
  for (int64_t b = 0; b < n / 32; ++b, src += 18, dst += 32) {
    __m512 d = _mm512_set1_ps(load_half(src));
    __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2)));
    __m512i lo = _mm512_sub_epi32(_mm512_and_si512(q, low_mask), eight);
    __m512i hi = _mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight);
    _mm512_storeu_ps(dst, _mm512_mul_ps(_mm512_cvtepi32_ps(lo), d));
    _mm512_storeu_ps(dst + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(hi), d));
  }
#else
  dequantize_row(GgmlType::Q4_0, src, dst, n);
#endif
}

void decode_q8_0(const uint8_t* src, float* dst, int64_t n) {
#if HALO_CPU_AVX512
  for (int64_t b = 0; b < n / 32; ++b, src += 34, dst += 32) {
    __m512 d = _mm512_set1_ps(load_half(src));
    __m512i q0 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2)));
    __m512i q1 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 18)));
    _mm512_storeu_ps(dst, _mm512_mul_ps(_mm512_cvtepi32_ps(q0), d));
    _mm512_storeu_ps(dst + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(q1), d));
  }
#else
  dequantize_row(GgmlType::Q8_0, src, dst, n);
#endif
}

}  // namespace halo::cpu

namespace halo::cpu {

// Decode-and-dot without a buffer: matrix-vector products are limited by
// memory bandwidth, so decoding must cost less than the bytes it reads.
// Block scales are converted 16 at a time and applied as memory broadcasts,
// and four accumulators keep the FMA latency chains apart.

#if HALO_CPU_AVX512
namespace {

// Asks for the cache lines of the next group of 16 blocks ahead of use
// (block_bytes × 16 bytes from `next`), which keeps more memory reads in
// flight than the hardware prefetcher alone while a row is being read.
inline void prefetch_group(const uint8_t* next, int64_t block_bytes) {
  for (int64_t off = 0; off < block_bytes * 16; off += 64) _mm_prefetch(reinterpret_cast<const char*>(next + off), _MM_HINT_T0);
}

// The f16 scales of `count` (<= 16) blocks of block_bytes each, as f32.
inline void block_scales(const uint8_t* first, int64_t block_bytes, int64_t count, float* out) {
  alignas(32) uint16_t half[16] = {};
  for (int64_t j = 0; j < count; ++j) std::memcpy(&half[j], first + j * block_bytes, 2);
  _mm512_storeu_ps(out, _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(half))));
}


// Sums d_b * block_dot(b) over 32-element blocks of kBytes bytes whose first
// two bytes are the f16 scale d_b; block_dot(b) returns the unscaled
// products of block b with its 32 inputs, 16 lanes wide.
template <int64_t kBytes, typename BlockDot>
inline float scaled_blocks_dot(const uint8_t* w, int64_t blocks, BlockDot block_dot) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  alignas(64) float d[16];
  auto step = [&](int64_t b, float scale, __m512 a) { return _mm512_fmadd_ps(_mm512_set1_ps(scale), block_dot(b), a); };
  for (int64_t b0 = 0; b0 < blocks; b0 += 16) {
    const int64_t count = std::min<int64_t>(16, blocks - b0);
    prefetch_group(w + (b0 + 64) * kBytes, kBytes);
    block_scales(w + b0 * kBytes, kBytes, count, d);
    int64_t j = 0;
    for (; j + 4 <= count; j += 4)
      for (int u = 0; u < 4; ++u) acc[u] = step(b0 + j + u, d[j + u], acc[u]);
    for (; j < count; ++j) acc[0] = step(b0 + j, d[j], acc[0]);
  }
  return hsum(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

}  // namespace
#else
namespace {

// Without AVX-512: decode 256 elements at a time into a buffer, then dot.
template <int64_t kBytes, typename Decode>
float buffered_dot(const uint8_t* w, const float* x, int64_t n, Decode decode) {
  float row[256], sum = 0;
  for (int64_t i = 0; i < n; i += 256) {
    const int64_t len = std::min<int64_t>(256, n - i);
    decode(w + i / 32 * kBytes, row, len);
    sum += dot_f32(row, x + i, len);
  }
  return sum;
}

}  // namespace
#endif

float row_dot_q4_0(const uint8_t* w, const float* x, int64_t n) {
#if HALO_CPU_AVX512
  // vpermps reads only the low 4 bits of each index: the nibble value q
  // selects q - 8 from this table without masking or converting.
  const __m512 values = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
  return scaled_blocks_dot<18>(w, n / 32, [&](int64_t b) {
    const uint8_t* blk = w + b * 18;
    const float* xb = x + b * 32;
    __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)));
    __m512 lo = _mm512_permutexvar_ps(q, values);
    __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(q, 4), values);
    return _mm512_fmadd_ps(hi, _mm512_loadu_ps(xb + 16), _mm512_mul_ps(lo, _mm512_loadu_ps(xb)));
  });
#else
  return buffered_dot<18>(w, x, n, decode_q4_0);
#endif
}

float row_dot_q8_0(const uint8_t* w, const float* x, int64_t n) {
#if HALO_CPU_AVX512
  return scaled_blocks_dot<34>(w, n / 32, [&](int64_t b) {
    const uint8_t* blk = w + b * 34;
    const float* xb = x + b * 32;
    __m512 q0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2))));
    __m512 q1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 18))));
    return _mm512_fmadd_ps(q1, _mm512_loadu_ps(xb + 16), _mm512_mul_ps(q0, _mm512_loadu_ps(xb)));
  });
#else
  return buffered_dot<34>(w, x, n, decode_q8_0);
#endif
}

}  // namespace halo::cpu
