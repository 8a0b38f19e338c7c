// The decode matrix-vector kernel's parts (matvec.comp): build parameters,
// accumulators, the fused input, the Q4_0/Q8_0 lane layout, 8-bit integer
// dot products, the reduction and the epilogues. Include after PUSH_MATMUL,
// common.glsl, push.h and dequant.glsl.
#ifndef WG_SIZE
#define WG_SIZE 128u
#endif
#ifndef ROWS_PER_WG
#define ROWS_PER_WG 4u       // rows per workgroup: x is loaded once for all of them
#endif
#ifndef MV_MAX_TOK
#define MV_MAX_TOK 8u    // the matvec1 variants are compiled with 1 for decode
#endif
#ifdef MV_DUAL
#define NMAT 2u
#else
#define NMAT 1u
#endif
#define NACC (ROWS_PER_WG * NMAT)  // accumulated rows: ROWS_PER_WG of each matrix
#if defined(MV_DUAL) || defined(MV_DP4A)
#undef MV_MAX_TOK
#define MV_MAX_TOK 1u  // one-token builds
#endif
// Builds other than the gate/up pair can rotate and store Q/K/V rows
// themselves (store_pairs); their ROWS_PER_WG must be even.
#ifndef MV_DUAL
#define MV_ROPE_EPILOGUE 1
#else
#define MV_ROPE_EPILOGUE 0
#endif
#define MIN_SUBGROUP 4u      // the device check requires subgroups at least this wide
#define MAX_SUBGROUPS (WG_SIZE / MIN_SUBGROUP)
layout(local_size_x = WG_SIZE) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize

// Per-subgroup partial sums: [token][row, then the norm's sum of squares][subgroup].
shared float partial[MV_MAX_TOK][NACC + 1u][MAX_SUBGROUPS];

uint ngroups;  // ncols / 4
// Loops over tokens run to the constant MV_MAX_TOK and break, so these
// arrays are indexed by constants after unrolling and stay in registers.
float acc[NACC][MV_MAX_TOK];
float sumsq[MV_MAX_TOK];  // of the raw input, for the fused norm

uint64_t weight_of(uint i) {
#ifdef MV_DUAL
  if (i >= ROWS_PER_WG) return pc.weight2;
#endif
  return pc.weight;
}
// Rows past the end repeat the last; their sums are discarded.
uint row_of(uint row0, uint i) { return min(row0 + i % ROWS_PER_WG, pc.nrows - 1u); }

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
#ifndef LANES_PER_BLOCK
#define LANES_PER_BLOCK 4u
#endif
#define BLOCKS_PER_PASS (WG_SIZE / LANES_PER_BLOCK)
#if defined(TYPE_Q4_0)
#define QS_BYTES 16u  // 32 nibbles: low ones elements 0..15, high ones 16..31
#else
#define QS_BYTES 32u  // 32 signed bytes
#endif
#define LANE_WORDS (QS_BYTES / 4u / LANES_PER_BLOCK)  // qs words per invocation and row
#ifdef MV_DP4A
// 8-bit builds: each invocation's input values of a block are quantized to
// signed bytes with one scale (s = max|x| / 127), four per word, and dotted
// with the weight bytes by OpSDot (one instruction per four products; float
// FMAs per weight bounded the matvec on an H100).
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot4(int a, int b, spirv_literal int packed_format);
int sdot(uint a, uint b, int acc) { return acc + sdot4(int(a), int(b), 0); }

#if defined(TYPE_Q4_0)
#define LANE_X (2u * LANE_WORDS)  // x vec4s per block: low nibbles' elements, then the high ones'
uint x_group(uint ib, uint sub, uint v) { return ib * 8u + sub * LANE_WORDS + v % LANE_WORDS + (v / LANE_WORDS) * 4u; }
#else
#define LANE_X LANE_WORDS
uint x_group(uint ib, uint sub, uint v) { return ib * 8u + sub * LANE_WORDS + v; }
#endif

// Quantizes the invocation's LANE_X input vectors of block ib into xq;
// returns the scale. (Input rows are whole blocks: ib < nblocks.)
float quantize_block(uint ib, uint sub, out uint xq[LANE_X]) {
  vec4 xv[LANE_X];
  float amax = 0.0;
  for (uint v = 0u; v < LANE_X; ++v) {
    xv[v] = load_x(0u, x_group(ib, sub, v));
    vec4 a = abs(xv[v]);
    amax = max(amax, max(max(a.x, a.y), max(a.z, a.w)));
  }
  float inv = amax > 0.0 ? 1.0 / amax : 0.0;
  for (uint v = 0u; v < LANE_X; ++v) xq[v] = packSnorm4x8(xv[v] * inv);
  return amax / 127.0;
}

// The sum over a block's weights (rows' words q) times the quantized input
// xq, in integers (Q4_0's -8 offset applied through xsum, the sum of xq).
int block_dot(uint q[LANE_WORDS], uint xq[LANE_X], int xsum) {
#if defined(TYPE_Q4_0)
  int si = -8 * xsum;
  for (uint k = 0u; k < LANE_WORDS; ++k) {
    si = sdot(q[k] & 0x0F0F0F0Fu, xq[k], si);
    si = sdot((q[k] >> 4) & 0x0F0F0F0Fu, xq[LANE_WORDS + k], si);
  }
  return si;
#else
  int si = 0;
  for (uint k = 0u; k < LANE_WORDS; ++k) si = sdot(q[k], xq[k], si);
  return si;
#endif
}

int input_sum(uint xq[LANE_X]) {
  int s = 0;
#if defined(TYPE_Q4_0)
  for (uint v = 0u; v < LANE_X; ++v) s = sdot(xq[v], 0x01010101u, s);
#endif
  return s;
}

// Row i's scale and LANE_WORDS quantized words of block ib.
void load_block(uint row0, uint i, uint ib, uint sub, out float d, out uint q[LANE_WORDS]) {
  uint64_t w = weight_of(i);
  uint b = row_of(row0, i) * pc.row_bytes + ib * BLOCK_BYTES;
  d = rd_f16(w, b);
  for (uint k = 0u; k < LANE_WORDS; ++k) q[k] = rd_u32(w, b + 2u + 4u * (sub * LANE_WORDS + k));
}
#endif  // MV_DP4A
#endif  // Q4_0 or Q8_0

float silu(float v) { return v / (1.0 + exp(-v)); }

// Row r of token t: the reduced sums with the fused norm scale, the SwiGLU
// (dual builds), the bias and the accumulated output applied.
float row_result(uint t, uint r, uint row) {
  float s = 0.0, ss = 0.0;
#ifdef MV_DUAL
  float s_up = 0.0;
#endif
  for (uint i = 0u; i < gl_NumSubgroups; ++i) {
    s += partial[t][r][i];
    ss += partial[t][NACC][i];
#ifdef MV_DUAL
    s_up += partial[t][ROWS_PER_WG + r][i];
#endif
  }
  float norm_scale = pc.norm != 0ul ? inversesqrt(ss / float(pc.ncols) + pc.eps) : 1.0;
  s *= norm_scale;
#ifdef MV_DUAL
  s = silu(s) * (s_up * norm_scale);
#endif
  if (pc.bias != 0ul) s += Floats(pc.bias).f[row];
  if ((pc.flags & PUSH_FLAG_ACCUMULATE) != 0u) s += Floats(pc.y).f[t * pc.nrows + row];
  return s;
}

#if MV_ROPE_EPILOGUE
// One-token Q/K/V projections (see MatmulPush): rows in pairs (2i, 2i+1)
// rotated by the RoPE angles of position pc.pos (when table != 0), then
// written as f32 to y or as f16 pairs to the KV cache row. ROWS_PER_WG is
// even, so both rows of a pair are this workgroup's.
shared float out_sh[ROWS_PER_WG];
void store_pair(uint row, vec2 v) {
  uint c = row % pc.head_dim;
  if (pc.table != 0ul && c < pc.rope_dim) {
    uint half_dim = pc.rope_dim / 2u;
    vec2 cs = vec2(Floats(pc.table).f[(pc.pos * half_dim + c / 2u) * 2u],
                   Floats(pc.table).f[(pc.pos * half_dim + c / 2u) * 2u + 1u]);
    v = vec2(v.x * cs.x - v.y * cs.y, v.x * cs.y + v.y * cs.x);
  }
  if (pc.cache != 0ul) {
    Words(pc.cache).w[row / 2u] = packHalf2x16(v);
  } else {
    Floats(pc.y).f[row] = v.x;
    Floats(pc.y).f[row + 1u] = v.y;
  }
}
void store_pairs(uint row0, uint tid) {
  if (tid < ROWS_PER_WG) out_sh[tid] = row0 + tid < pc.nrows ? row_result(0u, tid, row0 + tid) : 0.0;
  barrier();
  uint row = row0 + 2u * tid;
  if (tid < ROWS_PER_WG / 2u && row < pc.nrows) store_pair(row, vec2(out_sh[2u * tid], out_sh[2u * tid + 1u]));
}
#endif


// Sums each accumulator over the subgroup into partial[][][subgroup].
// Every invocation must call; a barrier must follow before partial is read.
void reduce_partials(uint ntok) {
  for (uint t = 0u; t < MV_MAX_TOK; ++t) {
    if (t >= ntok) break;
    for (uint i = 0u; i < NACC; ++i) {
      float s = subgroupAdd(acc[i][t]);
      if (subgroupElect()) partial[t][i][gl_SubgroupID] = s;
    }
    float q = subgroupAdd(sumsq[t]);
    if (subgroupElect()) partial[t][NACC][gl_SubgroupID] = q;
  }
}

// Writes the row set at row0 (after reduce_partials and a barrier): through
// the RoPE/cache epilogue when the push constants ask for it, else one
// invocation per (token, row). Every invocation must call (barrier inside).
void store_outputs(uint row0, uint tid, uint ntok) {
#if MV_ROPE_EPILOGUE
  if (pc.table != 0ul || pc.cache != 0ul) {  // uniform: a push constant
    store_pairs(row0, tid);
    return;
  }
#endif
  uint t = tid / ROWS_PER_WG, r = tid % ROWS_PER_WG, row = row0 + r;
  if (t < ntok && row < pc.nrows) Floats(pc.y).f[t * pc.nrows + row] = row_result(t, r, row);
}
