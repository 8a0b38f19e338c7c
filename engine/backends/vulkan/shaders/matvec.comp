#version 450
// Matrix-vector product for decode (and batches of up to MV_MAX_TOK tokens):
// each workgroup computes ROWS_PER_WG weight rows, its WG_SIZE invocations
// splitting the row length between them, so a 4096-row matrix gets 1024
// workgroups and every SM several (one row set per 32 lanes left most SMs
// waiting on memory latency). Each input value is loaded once for all the
// workgroup's rows. Partial sums are reduced per subgroup, then across
// subgroups through shared memory, once for every row and token.
// Q4_0 and Q8_0 (the common decode types) split each block between four
// invocations, consecutive invocations on consecutive bytes; other types go four elements at a time through dequant4. The input may be
// fused with the RMS norm or the SwiGLU before it (see MatmulPush).
//   W: nrows x ncols (quantized rows), x: ntok x ncols f32, y: ntok x nrows f32
#define PUSH_MATMUL
#include "common.glsl"
#include "push.h"
#include "dequant.glsl"
#define WG_SIZE 128u
#define ROWS_PER_WG 4u       // rows per workgroup: x is loaded once for all of them
#ifndef MV_MAX_TOK
#define MV_MAX_TOK 8u    // the matvec1_ variants are compiled with 1 for decode
#endif
#define MIN_SUBGROUP 4u      // the device check requires subgroups at least this wide
#define MAX_SUBGROUPS (WG_SIZE / MIN_SUBGROUP)
layout(local_size_x = WG_SIZE) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize

// Per-subgroup partial sums: [token][row, then the norm's sum of squares][subgroup].
shared float partial[MV_MAX_TOK][ROWS_PER_WG + 1u][MAX_SUBGROUPS];

uint ngroups;  // ncols / 4
// Loops over tokens run to the constant MV_MAX_TOK and break, so these
// arrays are indexed by constants after unrolling and stay in registers.
float acc[ROWS_PER_WG][MV_MAX_TOK];
float sumsq[MV_MAX_TOK];  // of the raw input, for the fused norm

// Input group g (four values) of token t after the fused transforms.
vec4 load_x(uint t, uint g) {
  vec4 xv = Vec4s(pc.x).v[t * ngroups + g];
  if (pc.x2 != 0ul) xv = xv / (1.0 + exp(-xv)) * Vec4s(pc.x2).v[t * ngroups + g];
  if (pc.norm != 0ul) {
    sumsq[t] += dot(xv, xv);
    xv *= Vec4s(pc.norm).v[g];
  }
  return xv;
}

#if defined(TYPE_Q4_0) || defined(TYPE_Q8_0)
// LANES_PER_BLOCK invocations share each block, so consecutive invocations
// read consecutive bytes of a row and consecutive input vectors: with one
// whole block per invocation, each input load touched 32 cache lines a
// warp and L1 throughput, not DRAM, bounded the kernel (H100 profile).
#define LANES_PER_BLOCK 4u
#define BLOCKS_PER_PASS (WG_SIZE / LANES_PER_BLOCK)
void accumulate_rows(uint row0, uint tid, uint ntok) {
  uint nblocks = pc.ncols / 32u, sub = tid % LANES_PER_BLOCK;
  for (uint ib = tid / LANES_PER_BLOCK; ib < nblocks; ib += BLOCKS_PER_PASS) {
    float d[ROWS_PER_WG];
#if defined(TYPE_Q4_0)
    uint q[ROWS_PER_WG];  // qs bytes 4*sub..: low nibbles elements 4*sub.., high 16 + 4*sub..
#else
    uvec2 q[ROWS_PER_WG];  // qs bytes 8*sub..: elements 8*sub..
#endif
    for (uint r = 0u; r < ROWS_PER_WG; ++r) {
      uint row = min(row0 + r, pc.nrows - 1u);  // rows past the end repeat the last; discarded
      uint b = row * pc.row_bytes + ib * BLOCK_BYTES;
      d[r] = rd_f16(pc.weight, b);
#if defined(TYPE_Q4_0)
      q[r] = rd_u32(pc.weight, b + 2u + 4u * sub);
#else
      q[r] = uvec2(rd_u32(pc.weight, b + 2u + 8u * sub), rd_u32(pc.weight, b + 6u + 8u * sub));
#endif
    }
    for (uint t = 0u; t < MV_MAX_TOK; ++t) {
      if (t >= ntok) break;
#if defined(TYPE_Q4_0)
      vec4 xlo = load_x(t, ib * 8u + sub), xhi = load_x(t, ib * 8u + 4u + sub);
      for (uint r = 0u; r < ROWS_PER_WG; ++r)
        acc[r][t] += d[r] * (dot(bytes_to_vec4(q[r] & 0x0F0F0F0Fu) - 8.0, xlo) +
                             dot(bytes_to_vec4((q[r] >> 4) & 0x0F0F0F0Fu) - 8.0, xhi));
#else
      vec4 x0 = load_x(t, ib * 8u + 2u * sub), x1 = load_x(t, ib * 8u + 2u * sub + 1u);
      for (uint r = 0u; r < ROWS_PER_WG; ++r)
        acc[r][t] += d[r] * (dot(sbytes_to_vec4(q[r].x), x0) + dot(sbytes_to_vec4(q[r].y), x1));
#endif
    }
  }
}
#else
// Four elements at a time through the type's dequant4.
void accumulate_rows(uint row0, uint tid, uint ntok) {
  for (uint g = tid; g < ngroups; g += WG_SIZE) {
    vec4 w[ROWS_PER_WG];
    for (uint r = 0u; r < ROWS_PER_WG; ++r)
      w[r] = dequant4_at(pc.weight, min(row0 + r, pc.nrows - 1u) * pc.row_bytes, g * 4u);
    for (uint t = 0u; t < MV_MAX_TOK; ++t) {
      if (t >= ntok) break;
      vec4 xv = load_x(t, g);
      for (uint r = 0u; r < ROWS_PER_WG; ++r) acc[r][t] += dot(w[r], xv);
    }
  }
}
#endif

void main() {
  uint tid = gl_LocalInvocationID.x;
  uint row0 = linear_workgroup() * ROWS_PER_WG;
  ngroups = pc.ncols / 4u;
  uint ntok = min(pc.ntok, MV_MAX_TOK);
  for (uint t = 0u; t < MV_MAX_TOK; ++t) {
    sumsq[t] = 0.0;
    for (uint r = 0u; r < ROWS_PER_WG; ++r) acc[r][t] = 0.0;
  }
  if (row0 < pc.nrows) accumulate_rows(row0, tid, ntok);
  // Uniform control flow from here (barrier). Subgroup sums first, one
  // shared-memory slot per subgroup for each value.
  for (uint t = 0u; t < MV_MAX_TOK; ++t) {
    if (t >= ntok) break;
    for (uint r = 0u; r < ROWS_PER_WG; ++r) {
      float s = subgroupAdd(acc[r][t]);
      if (subgroupElect()) partial[t][r][gl_SubgroupID] = s;
    }
    float q = subgroupAdd(sumsq[t]);
    if (subgroupElect()) partial[t][ROWS_PER_WG][gl_SubgroupID] = q;
  }
  barrier();
  // One invocation per (token, row) output.
  uint t = tid / ROWS_PER_WG, r = tid % ROWS_PER_WG, row = row0 + r;
  if (t >= ntok || row >= pc.nrows) return;
  float s = 0.0, ss = 0.0;
  for (uint i = 0u; i < gl_NumSubgroups; ++i) {
    s += partial[t][r][i];
    ss += partial[t][ROWS_PER_WG][i];
  }
  if (pc.norm != 0ul) s *= inversesqrt(ss / float(pc.ncols) + pc.eps);
  uint o = t * pc.nrows + row;
  if (pc.bias != 0ul) s += Floats(pc.bias).f[row];
  if ((pc.flags & PUSH_FLAG_ACCUMULATE) != 0u) s += Floats(pc.y).f[o];
  Floats(pc.y).f[o] = s;
}
