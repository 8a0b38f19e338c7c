#include "engine/backends/cpu/ops.h"

#include <algorithm>
#include <cmath>

#include "engine/backends/cpu/kernels.h"
#include "engine/backends/cpu/simd.h"

namespace halo::cpu {

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  const float mean_square = dot_f32(x, x, n) / static_cast<float>(n);
  const float scale = 1.0f / std::sqrt(mean_square + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void rope_angles(int64_t pos, uint32_t rope_dim, float base, const float* freq_factors, RopeAngles& out) {
  const uint32_t pairs = rope_dim / 2;
  out.cos.resize(pairs);
  out.sin.resize(pairs);
  for (uint32_t i = 0; i < pairs; ++i) {
    double theta = static_cast<double>(pos) * std::pow(static_cast<double>(base), -2.0 * i / rope_dim);
    if (freq_factors) theta /= freq_factors[i];
    out.cos[i] = static_cast<float>(std::cos(theta));
    out.sin[i] = static_cast<float>(std::sin(theta));
  }
}

void rope(float* vec, int64_t n_heads, int64_t head_dim, uint32_t rope_dim, RopeLayout layout,
          const RopeAngles& angles) {
  const uint32_t pairs = rope_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = vec + h * head_dim;
    for (uint32_t i = 0; i < pairs; ++i) {
      // Normal: (2i, 2i+1); NeoX: (i, i + rope_dim/2).
      const uint32_t a = layout == RopeLayout::Normal ? 2 * i : i;
      const uint32_t b = layout == RopeLayout::Normal ? 2 * i + 1 : i + pairs;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * angles.cos[i] - x1 * angles.sin[i];
      v[b] = x0 * angles.sin[i] + x1 * angles.cos[i];
    }
  }
}

void softmax(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
  float sum = 0;
  int64_t i = 0;
#if HALO_CPU_AVX512
  const __m512 vmax = _mm512_set1_ps(max);
  __m512 vsum = _mm512_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmax));
    _mm512_storeu_ps(x + i, e);
    vsum = _mm512_add_ps(vsum, e);
  }
  sum = hsum(vsum);
#endif
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(float* gate, const float* up, int64_t n) {
  int64_t i = 0;
#if HALO_CPU_AVX512
  const __m512 one = _mm512_set1_ps(1.0f);
  for (; i + 16 <= n; i += 16) {
    const __m512 g = _mm512_loadu_ps(gate + i);
    const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), g))));
    _mm512_storeu_ps(gate + i, _mm512_mul_ps(silu, _mm512_loadu_ps(up + i)));
  }
#endif
  for (; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void add(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace halo::cpu
