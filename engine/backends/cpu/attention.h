// Causal grouped-query attention over the f32 KV cache.
#pragma once
#include <cstdint>

#include "engine/backends/cpu/thread_pool.h"

namespace halo::cpu {

struct AttentionShape {
  int64_t n_head;     // query heads
  int64_t n_head_kv;  // key/value heads; query head h reads KV head h / (n_head / n_head_kv)
  int64_t head_dim;
};

// q:   (n_tokens × n_head × head_dim), already rotated
// k_t: this layer's keys, transposed: (n_head_kv × head_dim × n_ctx), so
//      the scores of 16 consecutive positions are one vector FMA per dimension
// v:   this layer's values, (n_ctx × n_head_kv × head_dim)
//      (both filled for positions [0, n_past + n_tokens))
// out: (n_tokens × n_head × head_dim)
// Token t sits at position n_past + t and attends to positions 0..n_past + t.
// Work items are (token, KV head) pairs, so the query heads of one group
// share each key and value they read.
void attention(const float* q, const float* k_t, const float* v, int64_t n_ctx, int64_t n_tokens, int64_t n_past,
               const AttentionShape& shape, float* out, ThreadPool& pool);

}  // namespace halo::cpu
