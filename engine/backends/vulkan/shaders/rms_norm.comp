#version 450
// RMS norm of each row, times a weight of ncols: y = x / sqrt(mean(x^2) + eps) * w.
// Also the per-head Q/K norm (rows of head_dim). In place is allowed (y == x).
#define PUSH_RMS_NORM
#include "common.glsl"
#include "push.h"
#define WG_SIZE 128
layout(local_size_x = WG_SIZE) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize
#include "reduce.glsl"

void main() {
  uint row = linear_workgroup();
  if (row >= pc.nrows) return;
  uint base = row * pc.ncols;
  float ss = 0.0;
  for (uint i = gl_LocalInvocationID.x; i < pc.ncols; i += WG_SIZE) {
    float v = Floats(pc.x).f[base + i];
    ss += v * v;
  }
  float inv = inversesqrt(wg_sum(ss) / float(pc.ncols) + pc.eps);
  for (uint i = gl_LocalInvocationID.x; i < pc.ncols; i += WG_SIZE)
    Floats(pc.y).f[base + i] = Floats(pc.x).f[base + i] * inv * Floats(pc.w).f[i];
}
