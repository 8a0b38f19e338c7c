#version 450
// Matrix-vector product for decode (and batches of up to MV_MAX_TOK tokens):
// ROWS_PER_WG weight rows per workgroup, ROW_THREADS invocations per row.
// Q4_0 and Q8_0 (the common decode types) read a whole block per invocation
// with aligned 32-bit loads, consecutive invocations on consecutive blocks;
// other types go four elements at a time through dequant4. A row's partial
// sums are reduced by one subgroup when the subgroup is exactly ROW_THREADS
// wide, else through shared memory. The input may be fused with the RMS
// norm or the SwiGLU before it (see MatmulPush).
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

uint ngroups;  // ncols / 4
float acc[MV_MAX_TOK];
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

// Block-relative 32-bit word k of a block at byte b (b even), given the
// aligned words r[] read from b & ~3.
#define BLOCK_WORD(r, k, sh) ((sh) == 0u ? r[k] : ((r[k] >> 16) | (r[(k) + 1] << 16)))

void accumulate_row(uint row_off, uint lane, uint ntok) {
#if defined(TYPE_Q4_0)
  // {f16 d; u8 qs[16]}: 18 bytes, 2-aligned: five aligned words cover it.
  uint nblocks = pc.ncols / 32u;
  for (uint ib = lane; ib < nblocks; ib += ROW_THREADS) {
    uint b = row_off + ib * 18u, sh = b & 3u, w0 = b >> 2;
    uint r[6];
    for (uint k = 0u; k < 5u; ++k) r[k] = Words(pc.weight).w[w0 + k];
    r[5] = 0u;
    uint bw[5];
    for (uint k = 0u; k < 5u; ++k) bw[k] = BLOCK_WORD(r, k, sh);
    float d = unpackHalf2x16(bw[0]).x;
    for (uint t = 0u; t < ntok; ++t) {
      float s = 0.0;
      for (uint k = 0u; k < 4u; ++k) {
        uint q = (bw[k] >> 16) | (bw[k + 1u] << 16);
        s += dot(bytes_to_vec4(q & 0x0F0F0F0Fu) - 8.0, load_x(t, ib * 8u + k));
        s += dot(bytes_to_vec4((q >> 4) & 0x0F0F0F0Fu) - 8.0, load_x(t, ib * 8u + 4u + k));
      }
      acc[t] += d * s;
    }
  }
#elif defined(TYPE_Q8_0)
  // {f16 d; i8 qs[32]}: 34 bytes, 2-aligned: nine aligned words cover it.
  uint nblocks = pc.ncols / 32u;
  for (uint ib = lane; ib < nblocks; ib += ROW_THREADS) {
    uint b = row_off + ib * 34u, sh = b & 3u, w0 = b >> 2;
    uint r[10];
    for (uint k = 0u; k < 9u; ++k) r[k] = Words(pc.weight).w[w0 + k];
    r[9] = 0u;
    uint bw[9];
    for (uint k = 0u; k < 9u; ++k) bw[k] = BLOCK_WORD(r, k, sh);
    float d = unpackHalf2x16(bw[0]).x;
    for (uint t = 0u; t < ntok; ++t) {
      float s = 0.0;
      for (uint k = 0u; k < 8u; ++k)
        s += dot(sbytes_to_vec4((bw[k] >> 16) | (bw[k + 1u] << 16)), load_x(t, ib * 8u + k));
      acc[t] += d * s;
    }
  }
#else
  for (uint g = lane; g < ngroups; g += ROW_THREADS) {
    vec4 w = dequant4_at(pc.weight, row_off, g * 4u);
    for (uint t = 0u; t < ntok; ++t) acc[t] += dot(w, load_x(t, g));
  }
#endif
}

void main() {
  uint tid = gl_LocalInvocationID.x, lane = tid % ROW_THREADS;
  uint row = linear_workgroup() * ROWS_PER_WG + tid / ROW_THREADS;
  bool valid = row < pc.nrows;  // no early return: row_sum has barriers
  ngroups = pc.ncols / 4u;
  uint ntok = min(pc.ntok, MV_MAX_TOK);
  for (uint t = 0u; t < MV_MAX_TOK; ++t) acc[t] = 0.0, sumsq[t] = 0.0;
  if (valid) accumulate_row(row * pc.row_bytes, lane, ntok);
  for (uint t = 0u; t < ntok; ++t) {
    float s = row_sum(acc[t], tid, lane);
    if (pc.norm != 0ul) s *= inversesqrt(row_sum(sumsq[t], tid, lane) / float(pc.ncols) + pc.eps);
    if (valid && lane == 0u) {
      uint o = t * pc.nrows + row;
      if (pc.bias != 0ul) s += Floats(pc.bias).f[row];
      if ((pc.flags & PUSH_FLAG_ACCUMULATE) != 0u) s += Floats(pc.y).f[o];
      Floats(pc.y).f[o] = s;
    }
  }
}
