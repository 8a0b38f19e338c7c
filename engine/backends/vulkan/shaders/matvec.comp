#version 450
// Matrix-vector product for decode (and batches of up to MV_MAX_TOK tokens):
// one workgroup per weight row; each invocation dequantizes four elements at
// a time and applies them to every token, then the workgroup reduces.
//   W: nrows x ncols (quantized rows), x: ntok x ncols f32, y: ntok x nrows f32
#define PUSH_MATMUL
#include "common.glsl"
#include "push.h"
#include "dequant.glsl"
#define WG_SIZE 128
#define MV_MAX_TOK 8
layout(local_size_x = WG_SIZE) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize
#include "reduce.glsl"

void main() {
  uint row = linear_workgroup();
  if (row >= pc.nrows) return;  // uniform per workgroup
  uint ngroups = pc.ncols / 4u;
  uint row_off = row * pc.row_bytes;
  uint ntok = min(pc.ntok, uint(MV_MAX_TOK));
  float acc[MV_MAX_TOK];
  for (uint t = 0u; t < MV_MAX_TOK; ++t) acc[t] = 0.0;
  for (uint g = gl_LocalInvocationID.x; g < ngroups; g += WG_SIZE) {
    vec4 w = dequant4_at(pc.weight, row_off, g * 4u);
    for (uint t = 0u; t < ntok; ++t) acc[t] += dot(w, Vec4s(pc.x).v[t * ngroups + g]);
  }
  for (uint t = 0u; t < ntok; ++t) {
    float s = wg_sum(acc[t]);
    if (gl_LocalInvocationID.x == 0u) {
      uint o = t * pc.nrows + row;
      if (pc.bias != 0ul) s += Floats(pc.bias).f[row];
      if ((pc.flags & PUSH_FLAG_ACCUMULATE) != 0u) s += Floats(pc.y).f[o];
      Floats(pc.y).f[o] = s;
    }
  }
}
