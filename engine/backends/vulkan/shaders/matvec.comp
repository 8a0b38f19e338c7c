#version 450
// Matrix-vector product for decode (and batches of up to MV_MAX_TOK tokens):
// sets of ROW_THREADS invocations each compute ROWS_PER_GROUP weight rows,
// loading each input value once for all of them.
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
#define ROW_THREADS 32u      // invocations sharing one set of rows
#define ROWS_PER_GROUP 4u    // rows each set computes: x is loaded once for all of them
#define ROWS_PER_WG ((WG_SIZE / ROW_THREADS) * ROWS_PER_GROUP)
#define MV_MAX_TOK 8u
layout(local_size_x = WG_SIZE) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize

shared float partial[WG_SIZE];

// Sum over the ROW_THREADS invocations of a row set; every invocation calls.
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
// Loops over tokens run to the constant MV_MAX_TOK and break, so these
// arrays are indexed by constants after unrolling and stay in registers.
float acc[ROWS_PER_GROUP][MV_MAX_TOK];
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
#if defined(TYPE_Q4_0)
#define BLOCK_WORDS 5u  // {f16 d; u8 qs[16]}: 18 bytes, 2-aligned
#else
#define BLOCK_WORDS 9u  // {f16 d; i8 qs[32]}: 34 bytes, 2-aligned
#endif
// Whole blocks per invocation, read with aligned 32-bit loads (consecutive
// invocations on consecutive blocks), for ROWS_PER_GROUP rows at once.
void accumulate_rows(uint row0, uint lane, uint ntok) {
  uint nblocks = pc.ncols / 32u;
  for (uint ib = lane; ib < nblocks; ib += ROW_THREADS) {
    uint bw[ROWS_PER_GROUP][BLOCK_WORDS];
    float d[ROWS_PER_GROUP];
    for (uint r = 0u; r < ROWS_PER_GROUP; ++r) {
      uint row = min(row0 + r, pc.nrows - 1u);  // rows past the end repeat the last; discarded
      uint b = row * pc.row_bytes + ib * BLOCK_BYTES, sh = b & 3u, w0 = b >> 2;
      uint raw[BLOCK_WORDS + 1u];
      for (uint k = 0u; k < BLOCK_WORDS; ++k) raw[k] = Words(pc.weight).w[w0 + k];
      raw[BLOCK_WORDS] = 0u;
      for (uint k = 0u; k < BLOCK_WORDS; ++k) bw[r][k] = sh == 0u ? raw[k] : (raw[k] >> 16) | (raw[k + 1u] << 16);
      d[r] = unpackHalf2x16(bw[r][0]).x;
    }
    for (uint t = 0u; t < MV_MAX_TOK; ++t) {
      if (t >= ntok) break;
      vec4 xv[8];
      for (uint k = 0u; k < 8u; ++k) xv[k] = load_x(t, ib * 8u + k);
      for (uint r = 0u; r < ROWS_PER_GROUP; ++r) {
        float s = 0.0;
#if defined(TYPE_Q4_0)
        // qs word k: low nibbles are elements 4k.., high nibbles 16 + 4k..
        for (uint k = 0u; k < 4u; ++k) {
          uint q = (bw[r][k] >> 16) | (bw[r][k + 1u] << 16);
          s += dot(bytes_to_vec4(q & 0x0F0F0F0Fu) - 8.0, xv[k]);
          s += dot(bytes_to_vec4((q >> 4) & 0x0F0F0F0Fu) - 8.0, xv[4u + k]);
        }
#else
        for (uint k = 0u; k < 8u; ++k) s += dot(sbytes_to_vec4((bw[r][k] >> 16) | (bw[r][k + 1u] << 16)), xv[k]);
#endif
        acc[r][t] += d[r] * s;
      }
    }
  }
}
#else
// Four elements at a time through the type's dequant4.
void accumulate_rows(uint row0, uint lane, uint ntok) {
  for (uint g = lane; g < ngroups; g += ROW_THREADS) {
    vec4 w[ROWS_PER_GROUP];
    for (uint r = 0u; r < ROWS_PER_GROUP; ++r)
      w[r] = dequant4_at(pc.weight, min(row0 + r, pc.nrows - 1u) * pc.row_bytes, g * 4u);
    for (uint t = 0u; t < MV_MAX_TOK; ++t) {
      if (t >= ntok) break;
      vec4 xv = load_x(t, g);
      for (uint r = 0u; r < ROWS_PER_GROUP; ++r) acc[r][t] += dot(w[r], xv);
    }
  }
}
#endif

void main() {
  uint tid = gl_LocalInvocationID.x, lane = tid % ROW_THREADS;
  uint row0 = linear_workgroup() * ROWS_PER_WG + (tid / ROW_THREADS) * ROWS_PER_GROUP;
  ngroups = pc.ncols / 4u;
  uint ntok = min(pc.ntok, MV_MAX_TOK);
  for (uint t = 0u; t < MV_MAX_TOK; ++t) {
    sumsq[t] = 0.0;
    for (uint r = 0u; r < ROWS_PER_GROUP; ++r) acc[r][t] = 0.0;
  }
  if (row0 < pc.nrows) accumulate_rows(row0, lane, ntok);
  // Uniform loops from here: row_sum may hold barriers.
  for (uint t = 0u; t < MV_MAX_TOK; ++t) {
    if (t >= ntok) break;
    float inv = 1.0;
    if (pc.norm != 0ul) inv = inversesqrt(row_sum(sumsq[t], tid, lane) / float(pc.ncols) + pc.eps);
    for (uint r = 0u; r < ROWS_PER_GROUP; ++r) {
      float s = row_sum(acc[r][t], tid, lane) * inv;
      uint row = row0 + r;
      if (row < pc.nrows && lane == 0u) {
        uint o = t * pc.nrows + row;
        if (pc.bias != 0ul) s += Floats(pc.bias).f[row];
        if ((pc.flags & PUSH_FLAG_ACCUMULATE) != 0u) s += Floats(pc.y).f[o];
        Floats(pc.y).f[o] = s;
      }
    }
  }
}
