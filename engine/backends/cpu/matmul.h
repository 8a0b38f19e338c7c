// Matrix products of a quantized weight with f32 activations.
#pragma once
#include <cstdint>
#include <span>

#include "engine/backends/cpu/thread_pool.h"
#include "engine/model/model.h"

namespace halo::cpu {

// y = x · Wᵀ for W of shape (M rows × K), i.e. w.ne = {K, M}:
//   x: (n_tokens × K) row-major, y: (n_tokens × M) row-major.
// Few tokens use a matrix-vector path (each weight row decoded once into L1,
// then dotted with every token); larger batches use a tiled GEMM that decodes
// a panel of weight rows once and reuses it across all tokens.
void matmul(const Tensor& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);

// Several products with the same input (Q/K/V, or gate/up) in one parallel
// step: ys[i] = x · Wsᵀ[i]. Saves thread synchronisations during decode.
struct MatmulOut {
  const Tensor* w;
  float* y;
};
void matmul_set(std::span<const MatmulOut> outs, const float* x, int64_t n_tokens, ThreadPool& pool);

// The same product with explicit paths, for tests and benchmarks.
void matmul_rows(const Tensor& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);
void matmul_tiled(const Tensor& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);

// Decodes row `row` of W (K floats) into dst (embedding lookups).
void decode_row(const Tensor& w, int64_t row, float* dst);

}  // namespace halo::cpu
