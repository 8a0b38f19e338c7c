#version 450
// Matrix-matrix product for prompt batches, tiled in shared memory: each
// workgroup computes a 64-row x 64-token tile of y, stepping through K in
// slices of 32 that it dequantizes once into shared memory.
//   W: nrows x ncols (quantized rows), x: ntok x ncols f32, y: ntok x nrows f32
#define PUSH_MATMUL
#include "common.glsl"
#include "push.h"
#include "dequant.glsl"
#define BM 64u
#define BN 64u
#define BK 32u
layout(local_size_x = 256) in;

shared float w_tile[BK][BM + 1u];  // [k][row], padded against bank conflicts
shared float x_tile[BK][BN + 1u];  // [k][token]

void main() {
  uint tid = gl_LocalInvocationID.x;
  uint tr = tid & 15u, tc = tid >> 4;  // this invocation: rows tr + 16i, tokens tc + 16j
  uint row0 = gl_WorkGroupID.x * BM, tok0 = gl_WorkGroupID.y * BN;
  float acc[4][4];
  for (uint i = 0u; i < 4u; ++i)
    for (uint j = 0u; j < 4u; ++j) acc[i][j] = 0.0;

  for (uint k0 = 0u; k0 < pc.ncols; k0 += BK) {
    // 64 rows x 8 groups of 4 for each tile: two groups per invocation.
    for (uint it = 0u; it < 2u; ++it) {
      uint idx = tid + 256u * it, r = idx >> 3, g = idx & 7u, k = k0 + 4u * g;
      vec4 w = vec4(0.0), xv = vec4(0.0);
      if (row0 + r < pc.nrows && k < pc.ncols) w = dequant4_at(pc.weight, (row0 + r) * pc.row_bytes, k);
      if (tok0 + r < pc.ntok && k < pc.ncols) xv = Vec4s(pc.x).v[((tok0 + r) * pc.ncols + k) >> 2];
      for (uint c = 0u; c < 4u; ++c) {
        w_tile[4u * g + c][r] = w[c];
        x_tile[4u * g + c][r] = xv[c];
      }
    }
    barrier();
    for (uint k = 0u; k < BK; ++k) {
      float a[4], b[4];
      for (uint i = 0u; i < 4u; ++i) a[i] = w_tile[k][tr + 16u * i];
      for (uint j = 0u; j < 4u; ++j) b[j] = x_tile[k][tc + 16u * j];
      for (uint i = 0u; i < 4u; ++i)
        for (uint j = 0u; j < 4u; ++j) acc[i][j] += a[i] * b[j];
    }
    barrier();
  }

  for (uint j = 0u; j < 4u; ++j) {
    uint t = tok0 + tc + 16u * j;
    if (t >= pc.ntok) continue;
    for (uint i = 0u; i < 4u; ++i) {
      uint r = row0 + tr + 16u * i;
      if (r >= pc.nrows) continue;
      float s = acc[i][j];
      uint o = t * pc.nrows + r;
      if (pc.bias != 0ul) s += Floats(pc.bias).f[r];
      if ((pc.flags & PUSH_FLAG_ACCUMULATE) != 0u) s += Floats(pc.y).f[o];
      Floats(pc.y).f[o] = s;
    }
  }
}
