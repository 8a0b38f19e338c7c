// Element-wise and per-row operations of the forward pass (f32).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/model/hparams.h"

namespace halo::cpu {

// out[i] = x[i] / sqrt(mean(x²) + eps) * weight[i], for one row of n.
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);

// Rotary position embedding tables for one position: cos/sin of
// pos * base^(-2i/rope_dim) / factor[i] for i < rope_dim / 2, computed in
// double; freq_factors (rope_dim / 2 values) may be null (all 1).
struct RopeAngles {
  std::vector<float> cos, sin;
};
void rope_angles(int64_t pos, uint32_t rope_dim, float base, const float* freq_factors, RopeAngles& out);

// Rotates the first rope_dim values of each of n_heads vectors of head_dim
// (vec: n_heads × head_dim) in place. Normal rotates pairs (2i, 2i+1), NeoX
// pairs (i, i + rope_dim/2).
void rope(float* vec, int64_t n_heads, int64_t head_dim, uint32_t rope_dim, RopeLayout layout,
          const RopeAngles& angles);

// x[i] = exp(x[i] - max) / sum, in place over n values.
void softmax(float* x, int64_t n);

// gate[i] = silu(gate[i]) * up[i] (SwiGLU), in place over n values.
void swiglu(float* gate, const float* up, int64_t n);

// x[i] += y[i].
void add(float* x, const float* y, int64_t n);

}  // namespace halo::cpu
