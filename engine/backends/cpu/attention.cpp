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

// Attention of the `group` query heads that share KV head `kv` for one token.
//   q: (group × head_dim), out: (group × head_dim), keys 0..n_keys-1.
void attend_group(const float* q, const float* k, const float* v, int64_t n_keys, int64_t kv,
                  const AttentionShape& s, int64_t group, float* out, GroupScratch& scratch) {
  const int64_t kv_stride = s.n_head_kv * s.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  scratch.scores.resize(static_cast<size_t>(group * n_keys));
  float* scores = scratch.scores.data();
  for (int64_t j = 0; j < n_keys; ++j) {
    const float* key = k + j * kv_stride + kv * s.head_dim;
    for (int64_t g = 0; g < group; ++g) scores[g * n_keys + j] = dot_f32(q + g * s.head_dim, key, s.head_dim) * scale;
  }
  for (int64_t g = 0; g < group; ++g) softmax(scores + g * n_keys, n_keys);
  std::fill(out, out + group * s.head_dim, 0.0f);
  for (int64_t j = 0; j < n_keys; ++j) {
    const float* value = v + j * kv_stride + kv * s.head_dim;
    for (int64_t g = 0; g < group; ++g) axpy(scores[g * n_keys + j], value, out + g * s.head_dim, s.head_dim);
  }
}

}  // namespace

void attention(const float* q, const float* k, const float* v, int64_t n_tokens, int64_t n_past,
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
      attend_group(q + t * row + first_head * s.head_dim, k, v, n_past + t + 1, kv, s, group,
                   out + t * row + first_head * s.head_dim, scratch);
    }
  });
}

}  // namespace halo::cpu
