#version 450
// Matrix-matrix product for prompt batches on cooperative matrices (tensor
// cores, WMMA): each workgroup computes a BM-row x BN-token tile of y,
// stepping through K in slices of BK that it converts once into f16 shared
// memory (weights through the type's dequant4, activations from f32). Each
// subgroup owns 32x32 warp tiles (2x2 accumulators of 16x16, f32).
//   W: nrows x ncols (quantized rows), x: ntok x ncols f32, y: ntok x nrows f32
// Written against GL_NV_cooperative_matrix (what Debian 12's glslang knows);
// the build rewrites the SPIR-V to SPV_KHR_cooperative_matrix
// (spirv/coopmat_nv_to_khr.py), so the host only needs VK_KHR_cooperative_matrix.
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require
#define PUSH_MATMUL
#include "common.glsl"
#include "push.h"
#include "dequant.glsl"

#define BM 64u
#define BN 64u  // load_slice assumes BN == BM
#define BK 32u
#define WM 32u  // warp tile: rows
#define WN 32u  // warp tile: tokens
#define WARP_TILES ((BM / WM) * (BN / WN))
// Subgroups of up to 64 lanes: 128 lanes make 2 to 4 subgroups, so one
// subgroup owns at most 2 warp tiles (wave64 on RDNA; 1 on NVIDIA's 32).
#define TILES_PER_SG 2u
#define LANES 128u
#define LDA (BK + 8u)  // f16 row stride of the input tiles; the pad keeps rows on distinct banks
#define LDC (BM + 4u)  // f32 stride of the staged output, [token][row]
layout(local_size_x = 128) in;

#define HalfFrag fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define FloatFrag fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>

shared float16_t w_sh[BM * LDA];  // [row][k]: operand A, row-major
shared float16_t x_sh[BN * LDA];  // [token][k]: operand B (k x token), column-major
shared float c_sh[BN * LDC];      // [token][row]: accumulators for the epilogue

#define FILL_ITERS (BM * (BK / 4u) / LANES)  // groups of 4 per lane and operand (BM == BN)

// This lane's share of the K slice at k0, read from global memory into
// registers one slice ahead, so the loads are in flight during the products
// on the previous slice. Rows, tokens and columns past the matrix read as zero.
void load_slice(uint tid, uint row0, uint tok0, uint k0, out vec4 w[FILL_ITERS], out vec4 xv[FILL_ITERS]) {
  const uint groups = BK / 4u;
  [[unroll]] for (uint it = 0u; it < FILL_ITERS; ++it) {
    uint idx = tid + LANES * it, r = idx / groups, k = k0 + 4u * (idx % groups);
    w[it] = vec4(0.0);
    xv[it] = vec4(0.0);
    if (row0 + r < pc.nrows && k < pc.ncols) w[it] = dequant4_at(pc.weight, (row0 + r) * pc.row_bytes, k);
    if (tok0 + r < pc.ntok && k < pc.ncols) xv[it] = Vec4s(pc.x).v[((tok0 + r) * pc.ncols + k) >> 2];
  }
}

// The registers of load_slice, converted to f16, into the shared tiles.
void store_slice(uint tid, vec4 w[FILL_ITERS], vec4 xv[FILL_ITERS]) {
  const uint groups = BK / 4u;
  [[unroll]] for (uint it = 0u; it < FILL_ITERS; ++it) {
    uint idx = tid + LANES * it, o = (idx / groups) * LDA + 4u * (idx % groups);
    for (uint c = 0u; c < 4u; ++c) {
      w_sh[o + c] = float16_t(w[it][c]);
      x_sh[o + c] = float16_t(xv[it][c]);
    }
  }
}

// First row and token of warp tile wt inside the workgroup tile.
uvec2 warp_origin(uint wt) { return uvec2((wt % (BM / WM)) * WM, (wt / (BM / WM)) * WN); }

void main() {
  uint tid = gl_LocalInvocationID.x;
  uint row0 = gl_WorkGroupID.x * BM, tok0 = gl_WorkGroupID.y * BN;
  uint sg = gl_SubgroupID, nsg = gl_NumSubgroups;
  FloatFrag acc[TILES_PER_SG][2][2];
  [[unroll]] for (uint t = 0u; t < TILES_PER_SG; ++t)
    [[unroll]] for (uint i = 0u; i < 2u; ++i)
      [[unroll]] for (uint j = 0u; j < 2u; ++j) acc[t][i][j] = FloatFrag(0.0);

  vec4 w[FILL_ITERS], xv[FILL_ITERS];
  load_slice(tid, row0, tok0, 0u, w, xv);
  for (uint k0 = 0u; k0 < pc.ncols; k0 += BK) {
    store_slice(tid, w, xv);
    barrier();
    if (k0 + BK < pc.ncols) load_slice(tid, row0, tok0, k0 + BK, w, xv);
    [[unroll]] for (uint kk = 0u; kk < BK; kk += 16u) {
      [[unroll]] for (uint t = 0u; t < TILES_PER_SG; ++t) {
        uint wt = sg + t * nsg;
        if (wt >= WARP_TILES) continue;  // uniform in the subgroup
        uvec2 o = warp_origin(wt);
        HalfFrag a[2];
        [[unroll]] for (uint i = 0u; i < 2u; ++i)
          coopMatLoadNV(a[i], w_sh, (o.x + 16u * i) * LDA + kk, LDA, false);
        [[unroll]] for (uint j = 0u; j < 2u; ++j) {
          HalfFrag b;
          coopMatLoadNV(b, x_sh, (o.y + 16u * j) * LDA + kk, LDA, true);
          [[unroll]] for (uint i = 0u; i < 2u; ++i) acc[t][i][j] = coopMatMulAddNV(a[i], b, acc[t][i][j]);
        }
      }
    }
    barrier();
  }

  [[unroll]] for (uint t = 0u; t < TILES_PER_SG; ++t) {
    uint wt = sg + t * nsg;
    if (wt >= WARP_TILES) continue;
    uvec2 o = warp_origin(wt);
    [[unroll]] for (uint i = 0u; i < 2u; ++i)
      [[unroll]] for (uint j = 0u; j < 2u; ++j)
        coopMatStoreNV(acc[t][i][j], c_sh, (o.y + 16u * j) * LDC + o.x + 16u * i, LDC, true);
  }
  barrier();
  // Epilogue: consecutive lanes write consecutive rows of one token.
  for (uint idx = tid; idx < BM * BN; idx += LANES) {
    uint r = row0 + idx % BM, t = tok0 + idx / BM;
    if (r >= pc.nrows || t >= pc.ntok) continue;
    float s = c_sh[(idx / BM) * LDC + idx % BM];
    uint o = t * pc.nrows + r;
    if (pc.bias != 0ul) s += Floats(pc.bias).f[r];
    if ((pc.flags & PUSH_FLAG_ACCUMULATE) != 0u) s += Floats(pc.y).f[o];
    Floats(pc.y).f[o] = s;
  }
}
