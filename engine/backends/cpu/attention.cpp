#include "engine/backends/cpu/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "engine/backends/cpu/kernels.h"
#include "engine/backends/cpu/ops.h"
#include "engine/backends/cpu/simd.h"

namespace halo::cpu {
namespace {

// out[i] += a * x[i]
inline void axpy(float a, const float* x, float* out, int64_t n) {
  int64_t i = 0;
#if HALO_CPU_AVX512
  const __m512 av = _mm512_set1_ps(a);
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(out + i)));
#endif
  for (; i < n; ++i) out[i] += a * x[i];
}

struct GroupScratch {
  std::vector<float> scores;  // (group × n_keys)
};

// scores (group × n_keys) = q (group × head_dim) · k_t[:, 0..n_keys) * scale
//   k_t: one KV head's keys, (head_dim × n_ctx)
void key_scores(const float* q, const float* k_t, int64_t n_ctx, int64_t n_keys, int64_t group, int64_t head_dim,
                float scale, float* scores) {
  int64_t j = 0;
#if HALO_CPU_AVX512
  constexpr int kMaxGroup = 8;
  if (group <= kMaxGroup) {
    for (; j < n_keys; j += 16) {
      const __mmask16 m = n_keys - j >= 16 ? 0xffff : static_cast<__mmask16>((1u << (n_keys - j)) - 1);
      __m512 acc[kMaxGroup];
      for (int64_t g = 0; g < group; ++g) acc[g] = _mm512_setzero_ps();
      for (int64_t i = 0; i < head_dim; ++i) {
        const __m512 keys = _mm512_maskz_loadu_ps(m, k_t + i * n_ctx + j);
        for (int64_t g = 0; g < group; ++g) acc[g] = _mm512_fmadd_ps(_mm512_set1_ps(q[g * head_dim + i]), keys, acc[g]);
      }
      for (int64_t g = 0; g < group; ++g)
        _mm512_mask_storeu_ps(scores + g * n_keys + j, m, _mm512_mul_ps(acc[g], _mm512_set1_ps(scale)));
    }
    return;
  }
#endif
  for (; j < n_keys; ++j)
    for (int64_t g = 0; g < group; ++g) {
      float s = 0;
      for (int64_t i = 0; i < head_dim; ++i) s += q[g * head_dim + i] * k_t[i * n_ctx + j];
      scores[g * n_keys + j] = s * scale;
    }
}

// Attention of the `group` query heads that share KV head `kv` for one token.
//   q: (group × head_dim), out: (group × head_dim), keys 0..n_keys-1.
void attend_group(const float* q, const float* k_t, const float* v, int64_t n_ctx, int64_t n_keys, int64_t kv,
                  const AttentionShape& s, int64_t group, float* out, GroupScratch& scratch) {
  const int64_t kv_stride = s.n_head_kv * s.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  if (scratch.scores.size() < static_cast<size_t>(group * n_keys)) scratch.scores.resize(group * n_keys);
  float* scores = scratch.scores.data();
  key_scores(q, k_t + kv * s.head_dim * n_ctx, n_ctx, n_keys, group, s.head_dim, scale, scores);
  for (int64_t g = 0; g < group; ++g) softmax(scores + g * n_keys, n_keys);
  std::fill(out, out + group * s.head_dim, 0.0f);
  for (int64_t j = 0; j < n_keys; ++j) {
    const float* value = v + j * kv_stride + kv * s.head_dim;
    for (int64_t g = 0; g < group; ++g) axpy(scores[g * n_keys + j], value, out + g * s.head_dim, s.head_dim);
  }
}

}  // namespace

void attention(const float* q, const float* k_t, const float* v, int64_t n_ctx, int64_t n_tokens, int64_t n_past,
               const AttentionShape& s, float* out, ThreadPool& pool) {
  const int64_t group = s.n_head / s.n_head_kv;
  const int64_t items = n_tokens * s.n_head_kv;
  const int64_t row = s.n_head * s.head_dim;
  std::atomic<int64_t> next{0};
  pool.run([&](unsigned, unsigned) {
    GroupScratch scratch;
    for (int64_t item; (item = next.fetch_add(1, std::memory_order_relaxed)) < items;) {
      // Later tokens have more keys: hand them out first for better balance.
      const int64_t t = n_tokens - 1 - item / s.n_head_kv, kv = item % s.n_head_kv;
      const int64_t first_head = kv * group;
      attend_group(q + t * row + first_head * s.head_dim, k_t, v, n_ctx, n_past + t + 1, kv, s, group,
                   out + t * row + first_head * s.head_dim, scratch);
    }
  });
}

}  // namespace halo::cpu
