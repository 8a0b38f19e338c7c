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
#ifdef MV_DUAL
#define NMAT 2u
#else
#define NMAT 1u
#endif
#define NACC (ROWS_PER_WG * NMAT)  // accumulated rows: ROWS_PER_WG of each matrix
// One-token builds (the matvec1 variants: decode) carry one token's
// accumulators; the others up to 8 tokens'.
#if defined(MV_ONE_TOKEN) || defined(MV_DUAL) || defined(MV_XQ)
#define MV_SINGLE_TOKEN 1
#define MV_MAX_TOK 1u
#else
#define MV_SINGLE_TOKEN 0
#define MV_MAX_TOK 8u
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
#ifdef MV_XQ
// 8-bit builds: the input comes quantized to signed bytes per block of 32
// (scale max|x| / 127), four per word, dotted with the weight bytes by OpSDot
// (one instruction per four products: the float conversions and FMAs per
// weight bounded the float matvec on an H100, 1.4 TB/s on Q4_0 against
// 2.7 TB/s in 8 bits, products overlapped).
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot4(int a, int b, spirv_literal int packed_format);
int sdot(uint a, uint b, int acc) { return acc + sdot4(int(a), int(b), 0); }

#if defined(TYPE_Q4_0)
#define LANE_X (2u * LANE_WORDS)  // input words per invocation and block: the low nibbles', then the high ones'
uint x_group(uint ib, uint sub, uint v) { return ib * 8u + sub * LANE_WORDS + v % LANE_WORDS + (v / LANE_WORDS) * 4u; }
#else
#define LANE_X LANE_WORDS
uint x_group(uint ib, uint sub, uint v) { return ib * 8u + sub * LANE_WORDS + v; }
#endif

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
#endif  // MV_XQ
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
#ifdef MV_XQ
  bool normed = (pc.flags & PUSH_FLAG_RMS_SCALE) != 0u;  // ss: the input's block sums
#else
  bool normed = pc.norm != 0ul;
#endif
  float norm_scale = normed ? inversesqrt(ss / float(pc.ncols) + pc.eps) : 1.0;
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

#if MV_SINGLE_TOKEN
// The output quantize epilogue (MatmulPush::xq_out): workgroups count the
// rows they stored per block of 32; the one that completes a block reads
// it back (coherent: other workgroups wrote it; this one's L1 may hold an
// older copy of the line) and quantizes it as quantize_input.comp would.
// ROWS_PER_WG divides 32, so a workgroup's rows lie in one block.
layout(buffer_reference, std430, buffer_reference_align = 16) coherent buffer CoherentVec4s { vec4 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) coherent buffer CoherentWords { uint w[]; };
shared bool completes_block;
shared vec2 block_stats[8];  // per quarter-word lane: max |x'|, sum of x^2

// Every invocation must call (barriers inside; uniform: push constants).
void quantize_output(uint row0, uint tid) {
  if (pc.xq_out == 0ul || row0 >= pc.nrows) return;
  uint block = row0 / 32u;
  memoryBarrierBuffer();  // this workgroup's rows, before its count
  barrier();
  if (tid == 0u) {
    uint counter = XQ_COUNTER_WORD(pc.nrows) + block;
    uint before = atomicAdd(CoherentWords(pc.xq_out).w[counter], ROWS_PER_WG);
    completes_block = before + ROWS_PER_WG == 32u;
    if (completes_block) CoherentWords(pc.xq_out).w[counter] = 0u;  // ready for the next dispatch
  }
  barrier();
  if (!completes_block) return;
  memoryBarrierBuffer();  // the other workgroups' rows, after their counts
  vec4 v = vec4(0.0);
  if (tid < 8u) {
    v = CoherentVec4s(pc.y).v[block * 8u + tid];
    float ss = dot(v, v);
    if (pc.xq_norm != 0ul) v *= Vec4s(pc.xq_norm).v[block * 8u + tid];
    vec4 a = abs(v);
    block_stats[tid] = vec2(max(max(a.x, a.y), max(a.z, a.w)), ss);
  }
  barrier();
  vec2 st = block_stats[0];
  for (uint i = 1u; i < 8u; ++i) st = vec2(max(st.x, block_stats[i].x), st.y + block_stats[i].y);
  if (tid < 8u) Words(pc.xq_out).w[block * 8u + tid] = packSnorm4x8(v * (st.x > 0.0 ? 1.0 / st.x : 0.0));
  if (tid == 0u) {
    Floats(pc.xq_out).f[XQ_D_WORD(pc.nrows) + block] = st.x / 127.0;
    Floats(pc.xq_out).f[XQ_SUMSQ_WORD(pc.nrows) + block] = st.y;
  }
}
#endif
