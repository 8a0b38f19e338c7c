#version 450
// f16 pre-pass of the cooperative-matrix GEMM: dequantizes nrows rows of
// src (the build's TYPE_*; TYPE_F32 converts activations) into f16 rows of
// ldk halves, zero past ncols, so the GEMM's main loop reads plain f16 in
// 16-byte loads with no dequantization and no K bounds.
//   src: rows row0.. row_bytes apart   dst: nrows x ldk f16
// One invocation per 8 halves of dst (one 16-byte store).
#define PUSH_TO_F16
#include "common.glsl"
#include "push.h"
#include "dequant.glsl"
layout(local_size_x = 256) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize

// Four values at k (a multiple of 4), zero past the row.
vec4 value4(uint r, uint k) {
  if (k >= pc.ncols) return vec4(0.0);
  return dequant4_at(pc.src, (pc.row0 + r) * pc.row_bytes, k);
}

void main() {
  uint gid = linear_invocation();
  uint groups = pc.ldk / 8u;
  if (gid >= pc.nrows * groups) return;
  uint r = gid / groups, k = 8u * (gid % groups);
  vec4 lo = value4(r, k), hi = value4(r, k + 4u);
  UVec4s(pc.dst).v[gid] = uvec4(packHalf2x16(lo.xy), packHalf2x16(lo.zw), packHalf2x16(hi.xy), packHalf2x16(hi.zw));
}
