#version 450
// Merges attention.comp's key splits: one workgroup per query row (t, h)
// reads the n_split partials (max m_s, sum l_s, unnormalised output o_s) and
// writes out = sum_s exp(m_s - M) o_s / sum_s exp(m_s - M) l_s, M = max_s m_s.
// A split that saw none of the row's keys has m_s = -1e30 and weighs 0.
#define PUSH_ATTENTION
#include "common.glsl"
#include "push.h"
#define WG_SIZE ATTN_WG
layout(local_size_x = WG_SIZE) in;
#include "grid.glsl"

shared float weight_sh[ATTN_MAX_SPLITS];

void main() {
  uint row = linear_workgroup(), n_rows = pc.ntok * pc.n_head;
  if (row >= n_rows) return;
  uint tid = gl_LocalInvocationID.x, stride = pc.head_dim + 2u;
  // Every invocation finds M and the total sum itself (n_split is small).
  float M = -1.0 / 0.0;
  for (uint s = 0u; s < pc.n_split; ++s) M = max(M, Floats(pc.partials).f[(s * n_rows + row) * stride]);
  float L = 0.0;
  for (uint s = 0u; s < pc.n_split; ++s) {
    uint p = (s * n_rows + row) * stride;
    L += Floats(pc.partials).f[p + 1u] * exp(Floats(pc.partials).f[p] - M);
  }
  if (tid < pc.n_split) weight_sh[tid] = exp(Floats(pc.partials).f[(tid * n_rows + row) * stride] - M) / L;
  barrier();
  for (uint d = tid; d < pc.head_dim; d += WG_SIZE) {
    float o = 0.0;
    for (uint s = 0u; s < pc.n_split; ++s) o += weight_sh[s] * Floats(pc.partials).f[(s * n_rows + row) * stride + 2u + d];
    Floats(pc.dst).f[row * pc.head_dim + d] = o;
  }
}
