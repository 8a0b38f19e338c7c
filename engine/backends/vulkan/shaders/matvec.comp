#version 450
// Matrix-vector product for decode (and batches of up to MV_MAX_TOK tokens):
// each workgroup computes ROWS_PER_WG weight rows, its WG_SIZE invocations
// splitting the row length between them, so a 4096-row matrix gets 1024
// workgroups and every SM several (one row set per 32 lanes left most SMs
// waiting on memory latency). Each input value is loaded once for all the
// workgroup's rows. Partial sums are reduced per subgroup, then across
// subgroups through shared memory, once for every row and token.
// Q4_0 and Q8_0 (the common decode types) split each block between
// LANES_PER_BLOCK invocations, consecutive invocations on consecutive bytes;
// other types go four elements at a time through dequant4. The input may be
// fused with the RMS norm or the SwiGLU before it (see MatmulPush).
//   W: nrows x ncols (quantized rows), x: ntok x ncols f32, y: ntok x nrows f32
// MV_DUAL builds (one token) run the gate and up projections in one pass
// over the input (weight2 is up, same type and shape) and write
// silu(gate x) * (up x), the SwiGLU input of the down projection.
// MV_XQ builds (one token, Q4_0 and Q8_0) multiply in 8-bit integers, on
// an input quantized once for all workgroups (by quantize_input.comp or
// the epilogue of the product before); see matvec_common.glsl. Tried on an H100 and dropped: staging the fused input
// in shared memory (1.6x slower: every weight load waits behind the staging
// barrier), and a persistent grid that keeps the quantized input in
// registers across row sets (up to 2x slower between barriers: each
// workgroup's row sets run one after another).
#define PUSH_MATMUL
#ifdef MV_XQ
#extension GL_EXT_spirv_intrinsics : require
#endif
#include "common.glsl"
#include "push.h"
#include "dequant.glsl"
#include "matvec_common.glsl"

#if defined(TYPE_Q4_0) || defined(TYPE_Q8_0)
#ifdef MV_XQ
// x is quantize_input.comp's output: int8 words, then a scale per block.
void accumulate_rows(uint row0, uint tid, uint ntok, uint g0, uint g1) {
  uint sub = tid % LANES_PER_BLOCK, nblocks = pc.ncols / 32u;
  if ((pc.flags & PUSH_FLAG_RMS_SCALE) != 0u)
    for (uint b = tid; b < nblocks; b += WG_SIZE) sumsq[0] += Floats(pc.x).f[XQ_SUMSQ_WORD(pc.ncols) + b];
  for (uint ib = g0 / 8u + tid / LANES_PER_BLOCK; ib < g1 / 8u; ib += BLOCKS_PER_PASS) {
    float d[NACC];
    uint q[NACC][LANE_WORDS];
    for (uint i = 0u; i < NACC; ++i) load_block(row0, i, ib, sub, d[i], q[i]);
    uint xq[LANE_X];
    for (uint v = 0u; v < LANE_X; ++v) xq[v] = Words(pc.x).w[x_group(ib, sub, v)];
    float sx = Floats(pc.x).f[XQ_D_WORD(pc.ncols) + ib];
    int xsum = input_sum(xq);
    for (uint i = 0u; i < NACC; ++i) acc[i][0] += d[i] * sx * float(block_dot(q[i], xq, xsum));
  }
}
#else
// Input groups [g0, g1) (whole blocks: 8 groups each).
void accumulate_rows(uint row0, uint tid, uint ntok, uint g0, uint g1) {
  uint sub = tid % LANES_PER_BLOCK;
  for (uint ib = g0 / 8u + tid / LANES_PER_BLOCK; ib < g1 / 8u; ib += BLOCKS_PER_PASS) {
    float d[NACC];
    uint q[NACC][LANE_WORDS];  // qs words sub * LANE_WORDS ..
    for (uint i = 0u; i < NACC; ++i) {
      uint64_t w = weight_of(i);
      uint b = row_of(row0, i) * pc.row_bytes + ib * BLOCK_BYTES;
      d[i] = rd_f16(w, b);
      for (uint k = 0u; k < LANE_WORDS; ++k) q[i][k] = rd_u32(w, b + 2u + 4u * (sub * LANE_WORDS + k));
    }
    for (uint t = 0u; t < MV_MAX_TOK; ++t) {
      if (t >= ntok) break;
      for (uint k = 0u; k < LANE_WORDS; ++k) {
        uint g = ib * 8u + sub * LANE_WORDS + k;  // input group of the word's (low) elements
#if defined(TYPE_Q4_0)
        vec4 xlo = load_x(t, g), xhi = load_x(t, g + 4u);
        for (uint i = 0u; i < NACC; ++i)
          acc[i][t] += d[i] * (dot(bytes_to_vec4(q[i][k] & 0x0F0F0F0Fu) - 8.0, xlo) +
                               dot(bytes_to_vec4((q[i][k] >> 4) & 0x0F0F0F0Fu) - 8.0, xhi));
#else
        vec4 xv = load_x(t, g);
        for (uint i = 0u; i < NACC; ++i) acc[i][t] += d[i] * dot(sbytes_to_vec4(q[i][k]), xv);
#endif
      }
    }
  }
}
#endif  // MV_XQ
#else
// Four elements at a time through the type's dequant4, input groups [g0, g1).
void accumulate_rows(uint row0, uint tid, uint ntok, uint g0, uint g1) {
  for (uint g = g0 + tid; g < g1; g += WG_SIZE) {
    vec4 w[NACC];
    for (uint i = 0u; i < NACC; ++i) w[i] = dequant4_at(weight_of(i), row_of(row0, i) * pc.row_bytes, g * 4u);
    for (uint t = 0u; t < MV_MAX_TOK; ++t) {
      if (t >= ntok) break;
      vec4 xv = load_x(t, g);
      for (uint i = 0u; i < NACC; ++i) acc[i][t] += dot(w[i], xv);
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
    for (uint i = 0u; i < NACC; ++i) acc[i][t] = 0.0;
  }
  if (row0 < pc.nrows) accumulate_rows(row0, tid, ntok, 0u, ngroups);
  // Uniform control flow from here (barriers).
  reduce_partials(ntok);
  barrier();
  store_outputs(row0, tid, ntok);
#if MV_SINGLE_TOKEN
  quantize_output(row0, tid);
#endif
}
