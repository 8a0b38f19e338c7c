#version 450
// Matrix-matrix product for prompt batches on cooperative matrices (tensor
// cores, WMMA): each workgroup computes a BM-row x BN-token tile of y,
// stepping through K in slices of BK that it converts into f16 shared memory
// (weights through the type's dequant4, activations from f32). Each subgroup
// owns WM x WN warp tiles (WM/16 x WN/16 accumulators of 16x16, f32).
//   W: nrows x ncols (quantized rows), x: ntok x ncols f32, y: ntok x nrows f32
// The tile shape comes from the build (meson.build's matmul_cm configurations,
// picked by vk_ops.cpp); the defaults below are the 64x64 shape.
// Pipelining: slice i+1 is read from global memory into registers while the
// products run on slice i, then written to the other half of a double buffer,
// so each slice costs one workgroup barrier.
// CM_F16 builds read W and x as f16 rows that to_f16.comp wrote (push.h's
// GemmF16Push): 16-byte loads of 8 halves straight into shared memory, no
// dequantization and no K bounds in the loop (rows are padded to ldk).
// Written against GL_NV_cooperative_matrix (what Debian 12's glslang knows);
// the build rewrites the SPIR-V to SPV_KHR_cooperative_matrix
// (spirv/coopmat_nv_to_khr.py), so the host only needs VK_KHR_cooperative_matrix.
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#ifdef CM_F16
#define PUSH_GEMM_F16
#include "push.h"
#define Y_STRIDE pc.ldy
#else
#define PUSH_MATMUL
#include "push.h"
#include "dequant.glsl"
#define Y_STRIDE pc.nrows
#endif

#ifndef BM
#define BM 64u
#endif
#ifndef BN
#define BN 64u
#endif
// K slice per barrier: 32 (two K steps of 16, double-buffered uvec2 tiles)
// or 64 (builds with K64, CM_F16 only: four K steps, one uvec4 buffer, see
// the K loop).
#ifdef K64
#ifndef CM_F16
#error "BK 64 reads f16 rows only (CM_F16)"
#endif
#define BK 64u
#else
#define BK 32u
#endif
// Warp tile and how many warp tiles one subgroup may own (WARP_TILES /
// subgroups, rounded up): plain integers, the preprocessor picks the
// spelled-out code by them. The host only picks a build where
// (LANES / subgroup size) * TILES_PER_SG covers WARP_TILES (vk_ops.cpp).
#ifndef WM
#define WM 32  // rows: 32 or 64
#endif
#ifndef WN
#define WN 32  // tokens: 32 or 64
#endif
#ifndef TILES_PER_SG
#define TILES_PER_SG 2  // 1 or 2
#endif
#ifndef LANES
#define LANES 128u
#endif
#define FM (WM / 16)  // accumulators per warp tile: FM rows x FN tokens of 16x16
#define FN (WN / 16)
#define WARP_TILES ((BM / WM) * (BN / WN))
layout(local_size_x = LANES) in;

#define HalfFrag fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define FloatFrag fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>

// f16 tiles stored 4 halves to a uvec2 (BK 32) or 8 to a uvec4 (BK 64): the
// cooperative loads count offsets and strides in array elements (as NVIDIA's
// samples load f16 matrices from uvec4 arrays; glslang has no f16-vector
// overloads), and the fill writes one group of values with one 8- or 16-byte
// store. The row stride LDV (BK + 8 halves: 80 or 144 bytes) puts the 8 rows
// of each 8x8 piece the hardware reads on distinct banks, and the 16-byte
// stores of 8 consecutive lanes (one row of 128 bytes) conflict-free.
// BK 32 double-buffers its slices; BK 64 holds one (two 128-row slices of
// 144-byte rows are 36 KiB of the 48 KiB NVIDIA gives a workgroup).
#ifdef K64
#define SHVEC uvec4
#define HALVES_PER_ELEM 8u
#define NBUF 1u
#else
#define SHVEC uvec2
#define HALVES_PER_ELEM 4u
#define NBUF 2u
#endif
#define LDV ((BK + 8u) / HALVES_PER_ELEM)
#define KSTEP_ELEMS (16u / HALVES_PER_ELEM)  // one K step of 16, in array elements
#define W_SLICE (BM * LDV)
#define X_SLICE (BN * LDV)
shared SHVEC w_sh[NBUF * W_SLICE];  // slices of [row][k]: operand A, row-major
shared SHVEC x_sh[NBUF * X_SLICE];  // slices of [token][k]: operand B (k x token), column-major
shared float stage[WARP_TILES * 256u];  // one 16x16 accumulator per warp tile, for the epilogue

#ifdef CM_F16
#define GROUP 8u  // halves per lane and load (one uvec4)
#else
#define GROUP 4u  // values per dequant4
#endif
#define GROUPS (BK / GROUP)              // groups per row of a slice
// LANES must divide BM * GROUPS and BN * GROUPS (true of every configuration).
#define FILL_W (BM * GROUPS / LANES)     // weight groups per lane and slice
#define FILL_X (BN * GROUPS / LANES)     // activation groups per lane and slice

#ifdef CM_F16
// This lane's share of the K slice at k0 (uvec4s of 8 halves), a slice ahead
// of the products. Rows and tokens past the matrix read as zero; K needs no
// bound (ldk is a multiple of BK and the padding is zero).
void load_slice(uint tid, uint row0, uint tok0, uint k0, out uvec4 w[FILL_W], out uvec4 xv[FILL_X]) {
  [[unroll]] for (uint it = 0u; it < FILL_W; ++it) {
    uint idx = tid + LANES * it, r = row0 + idx / GROUPS, k = k0 + GROUP * (idx % GROUPS);
    w[it] = uvec4(0u);
    if (r < pc.nrows) w[it] = UVec4s(pc.weight).v[(r * pc.ncols + k) >> 3];
  }
  [[unroll]] for (uint it = 0u; it < FILL_X; ++it) {
    uint idx = tid + LANES * it, t = tok0 + idx / GROUPS, k = k0 + GROUP * (idx % GROUPS);
    xv[it] = uvec4(0u);
    if (t < pc.ntok) xv[it] = UVec4s(pc.x).v[(t * pc.ncols + k) >> 3];
  }
}

// The registers of load_slice into slice buffer buf (one uvec4 or two uvec2 each).
void store_slice(uint tid, uint buf, uvec4 w[FILL_W], uvec4 xv[FILL_X]) {
#ifdef K64
  [[unroll]] for (uint it = 0u; it < FILL_W; ++it) {
    uint idx = tid + LANES * it;
    w_sh[buf * W_SLICE + (idx / GROUPS) * LDV + idx % GROUPS] = w[it];
  }
  [[unroll]] for (uint it = 0u; it < FILL_X; ++it) {
    uint idx = tid + LANES * it;
    x_sh[buf * X_SLICE + (idx / GROUPS) * LDV + idx % GROUPS] = xv[it];
  }
#else
  [[unroll]] for (uint it = 0u; it < FILL_W; ++it) {
    uint idx = tid + LANES * it, at = buf * W_SLICE + (idx / GROUPS) * LDV + 2u * (idx % GROUPS);
    w_sh[at] = w[it].xy;
    w_sh[at + 1u] = w[it].zw;
  }
  [[unroll]] for (uint it = 0u; it < FILL_X; ++it) {
    uint idx = tid + LANES * it, at = buf * X_SLICE + (idx / GROUPS) * LDV + 2u * (idx % GROUPS);
    x_sh[at] = xv[it].xy;
    x_sh[at + 1u] = xv[it].zw;
  }
#endif
}
#define SLICE_REGS uvec4
#else

// This lane's share of the K slice at k0, read from global memory into
// registers (a slice ahead of the products). Rows, tokens and columns past
// the matrix read as zero.
void load_slice(uint tid, uint row0, uint tok0, uint k0, out vec4 w[FILL_W], out vec4 xv[FILL_X]) {
  [[unroll]] for (uint it = 0u; it < FILL_W; ++it) {
    uint idx = tid + LANES * it, r = row0 + idx / GROUPS, k = k0 + 4u * (idx % GROUPS);
    w[it] = vec4(0.0);
    if (r < pc.nrows && k < pc.ncols) w[it] = dequant4_at(pc.weight, r * pc.row_bytes, k);
  }
  [[unroll]] for (uint it = 0u; it < FILL_X; ++it) {
    uint idx = tid + LANES * it, t = tok0 + idx / GROUPS, k = k0 + 4u * (idx % GROUPS);
    xv[it] = vec4(0.0);
    if (t < pc.ntok && k < pc.ncols) xv[it] = Vec4s(pc.x).v[(t * pc.ncols + k) >> 2];
  }
}

uvec2 to_halves(vec4 v) { return uvec2(packHalf2x16(v.xy), packHalf2x16(v.zw)); }

// The registers of load_slice, converted to f16, into slice buffer buf.
void store_slice(uint tid, uint buf, vec4 w[FILL_W], vec4 xv[FILL_X]) {
  [[unroll]] for (uint it = 0u; it < FILL_W; ++it) {
    uint idx = tid + LANES * it;
    w_sh[buf * W_SLICE + (idx / GROUPS) * LDV + idx % GROUPS] = to_halves(w[it]);
  }
  [[unroll]] for (uint it = 0u; it < FILL_X; ++it) {
    uint idx = tid + LANES * it;
    x_sh[buf * X_SLICE + (idx / GROUPS) * LDV + idx % GROUPS] = to_halves(xv[it]);
  }
}
#define SLICE_REGS vec4
#endif

// First row and token of warp tile wt inside the workgroup tile.
uvec2 warp_origin(uint wt) { return uvec2((wt % (BM / WM)) * WM, (wt / (BM / WM)) * WN); }

// Adds bias and the old y (as the push flags say) to one staged 16x16
// accumulator (column-major: [token][row]) and writes it; lanes take
// consecutive rows of a token.
void write_fragment(uint slot, uint r0, uint t0) {
  for (uint e = gl_SubgroupInvocationID; e < 256u; e += gl_SubgroupSize) {
    uint r = r0 + e % 16u, t = t0 + e / 16u;
    if (r >= pc.nrows || t >= pc.ntok) continue;
    float s = stage[slot * 256u + e];
    uint64_t y = pc.y, bias = pc.bias;
    uint stride = Y_STRIDE;
#ifdef CM_F16
    if (pc.y3 != 0ul && r >= pc.row3) {  // stacked products: the row's own output
      y = pc.y3, bias = pc.bias3, stride = pc.ldy3, r -= pc.row3;
    } else if (pc.y2 != 0ul && r >= pc.row2) {
      y = pc.y2, bias = pc.bias2, stride = pc.ldy2, r -= pc.row2;
    }
#endif
    uint o = t * stride + r;
    if (bias != 0ul) s += Floats(bias).f[r];
    if ((pc.flags & PUSH_FLAG_ACCUMULATE) != 0u) s += Floats(y).f[o];
    Floats(y).f[o] = s;
  }
}

// Products of warp tile t (the subgroup's t-th) for the K step at uvec2
// offset kk (array elements) of slice buffer buf, into accumulators acc.
#define TILE_PRODUCTS(t, acc, kk)                                                                 \
  {                                                                                               \
    uint wt = sg + (t) * nsg;                                                                     \
    if (wt < WARP_TILES) { /* uniform in the subgroup */                                         \
      uvec2 o = warp_origin(wt);                                                                  \
      HalfFrag a[FM], b[FN];                                                                      \
      [[unroll]] for (uint i = 0u; i < FM; ++i)                                                   \
        coopMatLoadNV(a[i], w_sh, buf * W_SLICE + (o.x + 16u * i) * LDV + (kk), LDV, false);      \
      [[unroll]] for (uint j = 0u; j < FN; ++j)                                                   \
        coopMatLoadNV(b[j], x_sh, buf * X_SLICE + (o.y + 16u * j) * LDV + (kk), LDV, true);       \
      [[unroll]] for (uint i = 0u; i < FM; ++i)                                                   \
        [[unroll]] for (uint j = 0u; j < FN; ++j) acc[i][j] = coopMatMulAddNV(a[i], b[j], acc[i][j]); \
    }                                                                                             \
  }
#if TILES_PER_SG > 1
#define K_STEP(kk) TILE_PRODUCTS(0u, acc0, kk) TILE_PRODUCTS(1u, acc1, kk)
#else
#define K_STEP(kk) TILE_PRODUCTS(0u, acc0, kk)
#endif

// Stages fragment (i, j) of warp tile wt (origin o) and writes it out.
#define EPILOGUE_FRAG(acc, i, j)                                         \
  coopMatStoreNV(acc[i][j], stage, wt * 256u, 16u, true);               \
  subgroupMemoryBarrierShared();                                        \
  subgroupBarrier();                                                    \
  write_fragment(wt, row0 + o.x + 16u * (i), tok0 + o.y + 16u * (j));   \
  subgroupBarrier(); /* the slot is written again by the next fragment */
#if FN > 2
#define EPILOGUE_ROW(acc, i) EPILOGUE_FRAG(acc, i, 0) EPILOGUE_FRAG(acc, i, 1) \
                             EPILOGUE_FRAG(acc, i, 2) EPILOGUE_FRAG(acc, i, 3)
#else
#define EPILOGUE_ROW(acc, i) EPILOGUE_FRAG(acc, i, 0) EPILOGUE_FRAG(acc, i, 1)
#endif
#if FM > 2
#define EPILOGUE_LOW_ROWS(acc) EPILOGUE_ROW(acc, 2) EPILOGUE_ROW(acc, 3)
#else
#define EPILOGUE_LOW_ROWS(acc)
#endif
#define EPILOGUE(t, acc)                                                          \
  {                                                                               \
    uint wt = sg + (t) * nsg;                                                     \
    if (wt < WARP_TILES) {                                                        \
      uvec2 o = warp_origin(wt);                                                  \
      EPILOGUE_ROW(acc, 0)                                                        \
      EPILOGUE_ROW(acc, 1)                                                        \
      EPILOGUE_LOW_ROWS(acc)                                                      \
    }                                                                             \
  }

void main() {
  uint tid = gl_LocalInvocationID.x;
  uint row0 = gl_WorkGroupID.x * BM, tok0 = gl_WorkGroupID.y * BN;
  uint sg = gl_SubgroupID, nsg = gl_NumSubgroups;
  // The fragments of each warp tile a subgroup owns (acc0, acc1), indexed
  // only by constants: the loops over them are unrolled by hand (macros
  // below) or by spirv-opt (innermost [[unroll]] loops), so they stay in registers.
  FloatFrag acc0[FM][FN];
  [[unroll]] for (uint i = 0u; i < FM; ++i)
    [[unroll]] for (uint j = 0u; j < FN; ++j) acc0[i][j] = FloatFrag(0.0);
#if TILES_PER_SG > 1
  FloatFrag acc1[FM][FN];
  [[unroll]] for (uint i = 0u; i < FM; ++i)
    [[unroll]] for (uint j = 0u; j < FN; ++j) acc1[i][j] = FloatFrag(0.0);
#endif

  SLICE_REGS w[FILL_W], xv[FILL_X];
  load_slice(tid, row0, tok0, 0u, w, xv);
  store_slice(tid, 0u, w, xv);
  barrier();
  uint buf = 0u;
#ifdef K64
  // One buffer: the next slice waits in registers until every subgroup has
  // read this one (two barriers per 64 K, as many per K as BK 32's one per 32).
  for (uint k0 = 0u; k0 < pc.ncols; k0 += BK) {
    bool more = k0 + BK < pc.ncols;  // uniform: the barrier below is legal
    if (more) load_slice(tid, row0, tok0, k0 + BK, w, xv);
    K_STEP(0u)                // halves 0..15
    K_STEP(KSTEP_ELEMS)       // 16..31
    K_STEP(2u * KSTEP_ELEMS)  // 32..47
    K_STEP(3u * KSTEP_ELEMS)  // 48..63
    barrier();
    if (more) {
      store_slice(tid, 0u, w, xv);
      barrier();
    }
  }
#else
  for (uint k0 = 0u; k0 < pc.ncols; k0 += BK) {
    bool more = k0 + BK < pc.ncols;
    if (more) load_slice(tid, row0, tok0, k0 + BK, w, xv);
    K_STEP(0u)           // halves 0..15 of the slice
    K_STEP(KSTEP_ELEMS)  // halves 16..31
    // The other buffer was last read before the previous barrier.
    if (more) store_slice(tid, buf ^ 1u, w, xv);
    barrier();
    buf ^= 1u;
  }
#endif

  // Epilogue: each subgroup stages its accumulators one at a time in its
  // warp tile's slot and writes them out with bias / accumulation.
  EPILOGUE(0, acc0)
#if TILES_PER_SG > 1
  EPILOGUE(1, acc1)
#endif
}
