#version 450
// Matrix-vector product for decode (and batches of up to MV_MAX_TOK tokens):
// ROWS_PER_WG weight rows per workgroup, ROW_THREADS invocations per row.
// Each invocation dequantizes four elements at a time (consecutive lanes
// read consecutive bytes) and applies them to every token; a row's partial
// sums are then reduced (one subgroup per row when the subgroup is exactly
// ROW_THREADS wide, else through shared memory).
//   W: nrows x ncols (quantized rows), x: ntok x ncols f32, y: ntok x nrows f32
#define PUSH_MATMUL
#include "common.glsl"
#include "push.h"
#include "dequant.glsl"
#define WG_SIZE 128u
#define ROW_THREADS 32u
#define ROWS_PER_WG (WG_SIZE / ROW_THREADS)
#define MV_MAX_TOK 8u
layout(local_size_x = WG_SIZE) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize

shared float partial[WG_SIZE];

float row_sum(float v, uint tid, uint lane) {
  if (gl_SubgroupSize == ROW_THREADS) return subgroupAdd(v);
  partial[tid] = v;
  barrier();
  for (uint w = ROW_THREADS / 2u; w > 0u; w >>= 1) {
    if (lane < w) partial[tid] += partial[tid + w];
    barrier();
  }
  float s = partial[tid - lane];
  barrier();
  return s;
}

void main() {
  uint tid = gl_LocalInvocationID.x, lane = tid % ROW_THREADS;
  uint row = linear_workgroup() * ROWS_PER_WG + tid / ROW_THREADS;
  bool valid = row < pc.nrows;  // no early return: row_sum has barriers
  uint ngroups = pc.ncols / 4u;
  uint row_off = valid ? row * pc.row_bytes : 0u;
  uint ntok = min(pc.ntok, MV_MAX_TOK);
  float acc[MV_MAX_TOK];
  for (uint t = 0u; t < MV_MAX_TOK; ++t) acc[t] = 0.0;
  for (uint g = lane; valid && g < ngroups; g += ROW_THREADS) {
    vec4 w = dequant4_at(pc.weight, row_off, g * 4u);
    for (uint t = 0u; t < ntok; ++t) acc[t] += dot(w, Vec4s(pc.x).v[t * ngroups + g]);
  }
  for (uint t = 0u; t < ntok; ++t) {
    float s = row_sum(acc[t], tid, lane);
    if (valid && lane == 0u) {
      uint o = t * pc.nrows + row;
      if (pc.bias != 0ul) s += Floats(pc.bias).f[row];
      if ((pc.flags & PUSH_FLAG_ACCUMULATE) != 0u) s += Floats(pc.y).f[o];
      Floats(pc.y).f[o] = s;
    }
  }
}
