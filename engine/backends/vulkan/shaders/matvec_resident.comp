#version 450
// One-token matrix-vector product for Q4_0 and Q8_0 in 8-bit integer dot
// products, with the input resident: each workgroup quantizes its
// invocations' share of the (fused) input once, keeps it in registers, and
// then walks row sets ROWS_PER_WG apart by the grid size, so the input is
// loaded and quantized once per workgroup instead of once per row set
// (matvec.comp's MV_DP4A builds). The host sizes the grid (a few workgroups
// per core). Rows up to RESIDENT_PASSES * BLOCKS_PER_PASS blocks long.
//   W: nrows x ncols, x: ncols f32, y: nrows f32 (or the RoPE/cache epilogue)
#define PUSH_MATMUL
#extension GL_EXT_spirv_intrinsics : require
#define MV_DP4A
#ifndef LANES_PER_BLOCK
#define LANES_PER_BLOCK 2u
#endif
#include "common.glsl"
#include "push.h"
#include "dequant.glsl"
#include "matvec_common.glsl"
#define RESIDENT_PASSES 8u  // 16384 columns at 2 lanes per block

uint xq_r[RESIDENT_PASSES][LANE_X];  // this invocation's quantized input, per pass
float sx_r[RESIDENT_PASSES];
int xsum_r[RESIDENT_PASSES];

void quantize_input(uint tid, uint nblocks) {
  uint sub = tid % LANES_PER_BLOCK;
  for (uint k = 0u; k < RESIDENT_PASSES; ++k) {
    uint ib = tid / LANES_PER_BLOCK + k * BLOCKS_PER_PASS;
    sx_r[k] = 0.0;
    xsum_r[k] = 0;
    if (ib >= nblocks) continue;
    uint xq[LANE_X];
    sx_r[k] = quantize_block(ib, sub, xq);
    xq_r[k] = xq;
    xsum_r[k] = input_sum(xq);
  }
}

void accumulate_resident(uint row0, uint tid, uint nblocks) {
  uint sub = tid % LANES_PER_BLOCK;
  for (uint k = 0u; k < RESIDENT_PASSES; ++k) {
    uint ib = tid / LANES_PER_BLOCK + k * BLOCKS_PER_PASS;
    if (ib >= nblocks) break;
    float d[NACC];
    uint q[NACC][LANE_WORDS];
    for (uint i = 0u; i < NACC; ++i) load_block(row0, i, ib, sub, d[i], q[i]);
    for (uint i = 0u; i < NACC; ++i) acc[i][0] += d[i] * sx_r[k] * float(block_dot(q[i], xq_r[k], xsum_r[k]));
  }
}

void main() {
  uint tid = gl_LocalInvocationID.x;
  ngroups = pc.ncols / 4u;
  uint nblocks = pc.ncols / 32u;
  sumsq[0] = 0.0;
  quantize_input(tid, nblocks);
  uint stride = gl_NumWorkGroups.x * gl_NumWorkGroups.y * ROWS_PER_WG;
  // The trip count is the workgroup's own, so the barriers stay uniform.
  for (uint row0 = linear_workgroup() * ROWS_PER_WG; row0 < pc.nrows; row0 += stride) {
    for (uint i = 0u; i < NACC; ++i) acc[i][0] = 0.0;
    accumulate_resident(row0, tid, nblocks);
    reduce_partials(1u);
    barrier();
    store_outputs(row0, tid, 1u);
    barrier();  // partial and out_sh are reused by the next row set
  }
}
