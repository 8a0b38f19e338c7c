#version 450
// Causal prompt attention, flash-attention style, SIMT f32 math (see
// AttentionPush; Ops::attention picks it for prompts). A workgroup owns BQ
// consecutive query tokens of one head and walks the keys they see in tiles
// of BK. Each K/V tile is read from the f16 cache once (into registers one
// tile ahead, so the loads overlap the previous tile's math), stored in
// shared memory (K as f32, V as f16) and used by all BQ queries:
//   S (BQ x BK) = Q K^T * scale   thread micro-tile TQ x TK (rows x keys)
//   online softmax per row        the KG threads of a row: subgroup shuffles
//   O (BQ x D) += P V             thread micro-tile TO x 8 dims (2 generic)
// Only tiles that reach past a row's last key are masked. Query t of the
// batch sees keys [0, pos0 + t].
// Builds: ATTNP_Q32 / ATTNP_Q64 pick a configuration of push.h; HEAD_DIM
// fixes the head size (a multiple of 4; Q, K and V 16-byte aligned) so the
// dimension loops unroll and read vec4s. Without HEAD_DIM the generic build
// takes any even head_dim <= 256 with vec2/word reads and Q from global memory.
#define PUSH_ATTENTION
#include "common.glsl"
#include "push.h"
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require  // [[unroll]]: register arrays stay in registers

#if defined(ATTNP_Q64)
#define WG_SIZE ATTNP_Q64_WG
#define BQ ATTNP_Q64_BQ
#define Q_GLOBAL  // 64 rows of Q would not leave room for the K/V tiles
#else
#define WG_SIZE ATTNP_Q32_WG
#define BQ ATTNP_Q32_BQ
#ifndef HEAD_DIM
#define Q_GLOBAL  // room for K/V tiles of 256-dim heads
#endif
#endif
#define BK ATTNP_BK
#define TK 2u                 // keys per thread in S
#define KG (BK / TK)          // threads sharing a row in S: a cluster of consecutive lanes
#define QG (WG_SIZE / KG)     // row groups in S
#define TQ (BQ / QG)          // rows per thread in S
#define PS (BQ + 4u)          // p_sh row stride: a key's probabilities for all rows
layout(local_size_x = WG_SIZE) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize

layout(buffer_reference, std430, buffer_reference_align = 8) buffer Vec2s { vec2 v[]; };

#ifdef HEAD_DIM
const uint D = HEAD_DIM, pairs = HEAD_DIM / 2u;
#define D4 (HEAD_DIM / 4u)
#define KS4 (D4 + 1u)         // K row stride in vec4s: the pad spreads KG keys over the banks
#define DG (HEAD_DIM / 8u)    // dimension groups in PV (8 dims = one uvec4 of V)
#define RG (WG_SIZE / DG)     // row groups in PV
#define TO (BQ / RG)          // rows per thread in PV
shared vec4 k_sh[BK * KS4];
shared uvec4 v_sh[BK * D4 / 2u];
#ifndef Q_GLOBAL
shared vec4 q_sh[BQ * KS4];
#endif
#define NST ((BK * D4 / 2u + WG_SIZE - 1u) / WG_SIZE)  // uvec4s of K (and of V) per thread per tile
#else
#define DMAX 256u
uint D, pairs;                  // head_dim, head_dim / 2
shared vec2 k_sh[BK * (DMAX / 2u + 1u)];  // row stride pairs + 1 (odd: no bank conflicts)
shared uint v_sh[BK * DMAX / 2u];
#define TO_MAX BQ
#define NST ((BK * DMAX / 2u + WG_SIZE - 1u) / WG_SIZE)  // words of K (and of V) per thread per tile
#endif
shared float p_sh[BK * PS];     // probabilities, key-major: a thread's rows are adjacent
shared float corr_sh[BQ];       // per row: rescale of the earlier output after this tile
shared float l_sh[BQ];          // per row: softmax denominator, published at the end

#define NEG_INF (-1.0 / 0.0)
uint tid, head, kvh, q0, last_tok;

// Offset of row r's vector (query or output), in floats; rows past the batch
// read the last token (their results are not written).
uint row_offset(uint r) { return (min(q0 + r, last_tok) * pc.n_head + head) * D; }

// K/V tile staging: global -> registers (next tile) -> shared (this tile).
// Keys at or past key_end are zero, so the unmasked loops stay finite.
#ifdef HEAD_DIM
uvec4 k_st[NST], v_st[NST];
void stage_load(uint k0, uint key_end) {
  [[unroll]] for (uint u = 0u; u < NST; ++u) {
    uint i = tid + u * WG_SIZE, key = k0 + i / (D4 / 2u), c = i % (D4 / 2u);
    bool ok = i < BK * D4 / 2u && key < key_end;
    uint off = ((key * pc.n_head_kv + kvh) * pairs) / 4u + c;
    k_st[u] = ok ? UVec4s(pc.k_cache).v[off] : uvec4(0u);
    v_st[u] = ok ? UVec4s(pc.v_cache).v[off] : uvec4(0u);
  }
}
void stage_store() {
  [[unroll]] for (uint u = 0u; u < NST; ++u) {
    uint i = tid + u * WG_SIZE, key = i / (D4 / 2u), c = i % (D4 / 2u);
    if (i >= BK * D4 / 2u) break;
    uvec4 w = k_st[u];
    k_sh[key * KS4 + 2u * c] = vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
    k_sh[key * KS4 + 2u * c + 1u] = vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w));
    v_sh[i] = v_st[u];
  }
}
#else
uint k_st[NST], v_st[NST];
void stage_load(uint k0, uint key_end) {
  [[unroll]] for (uint u = 0u; u < NST; ++u) {
    uint i = tid + u * WG_SIZE, key = k0 + i / pairs, c = i % pairs;
    bool ok = i < BK * pairs && key < key_end;
    uint off = (key * pc.n_head_kv + kvh) * pairs + c;
    k_st[u] = ok ? Words(pc.k_cache).w[off] : 0u;
    v_st[u] = ok ? Words(pc.v_cache).w[off] : 0u;
  }
}
void stage_store() {
  [[unroll]] for (uint u = 0u; u < NST; ++u) {
    uint i = tid + u * WG_SIZE;
    if (i >= BK * pairs) break;
    k_sh[(i / pairs) * (pairs + 1u) + i % pairs] = unpackHalf2x16(k_st[u]);
    v_sh[i] = v_st[u];
  }
}
#endif

// s[i][j] = q_(qg + i QG) . k_(kg + j KG) for this thread's TQ x TK scores.
void score_tile(uint qg, uint kg, inout float s[TQ][TK]) {
  [[unroll]] for (uint i = 0u; i < TQ; ++i)
    [[unroll]] for (uint j = 0u; j < TK; ++j) s[i][j] = 0.0;
#ifdef HEAD_DIM
#ifdef Q_GLOBAL
  uint qb[TQ];
  [[unroll]] for (uint i = 0u; i < TQ; ++i) qb[i] = row_offset(qg + i * QG) / 4u;
#endif
  for (uint d = 0u; d < D4; ++d) {
    vec4 q[TQ], k[TK];
    [[unroll]] for (uint i = 0u; i < TQ; ++i)
#ifdef Q_GLOBAL
      q[i] = Vec4s(pc.q).v[qb[i] + d];
#else
      q[i] = q_sh[(qg + i * QG) * KS4 + d];
#endif
    [[unroll]] for (uint j = 0u; j < TK; ++j) k[j] = k_sh[(kg + j * KG) * KS4 + d];
    [[unroll]] for (uint i = 0u; i < TQ; ++i)
      [[unroll]] for (uint j = 0u; j < TK; ++j) s[i][j] += dot(q[i], k[j]);
  }
#else
  uint qb[TQ];
  [[unroll]] for (uint i = 0u; i < TQ; ++i) qb[i] = row_offset(qg + i * QG) / 2u;
  for (uint d = 0u; d < pairs; ++d) {
    vec2 q[TQ], k[TK];
    [[unroll]] for (uint i = 0u; i < TQ; ++i) q[i] = Vec2s(pc.q).v[qb[i] + d];
    [[unroll]] for (uint j = 0u; j < TK; ++j) k[j] = k_sh[(kg + j * KG) * (pairs + 1u) + d];
    [[unroll]] for (uint i = 0u; i < TQ; ++i)
      [[unroll]] for (uint j = 0u; j < TK; ++j) s[i][j] += dot(q[i], k[j]);
  }
#endif
}

// Max and sum over the KG consecutive lanes that hold one row's scores.
float row_max(float v) {
  for (uint o = 1u; o < KG; o <<= 1) v = max(v, subgroupShuffleXor(v, o));
  return v;
}
float row_sum(float v) {
  for (uint o = 1u; o < KG; o <<= 1) v += subgroupShuffleXor(v, o);
  return v;
}

// S roles: rows qg + i QG, keys kg + j KG, with each row's running max m and sum l.
uint kg, qg;
float m[TQ], l[TQ];
// PV roles: dimension group dg (8 dims; generic: 2) of rows ro + i (generic: ro + i rgn).
uint dg, ro;
#ifdef HEAD_DIM
vec4 acc[TO][2];
#else
uint rgn, to_n;
vec2 acc[TO_MAX];
#endif

// Scores of keys [k0, k0 + BK) -> probabilities in p_sh, corr_sh; updates m and l.
// Masks only where a key may be past a row's last (the block's first row sees pos0 + q0).
void softmax_tile(uint k0, inout float s[TQ][TK]) {
  bool diagonal = k0 + BK > pc.pos0 + q0 + 1u;
  [[unroll]] for (uint i = 0u; i < TQ; ++i) {
    uint r = qg + i * QG, last_key = pc.pos0 + min(q0 + r, last_tok);
    float mx = NEG_INF;
    [[unroll]] for (uint j = 0u; j < TK; ++j) {
      float v = s[i][j] * pc.scale;
      s[i][j] = !diagonal || k0 + kg + j * KG <= last_key ? v : NEG_INF;
      mx = max(mx, s[i][j]);
    }
    // Every row sees key 0, so m_new is finite from the first tile on.
    float m_new = max(m[i], row_max(mx)), sum = 0.0;
    [[unroll]] for (uint j = 0u; j < TK; ++j) {
      float p = exp(s[i][j] - m_new);
      p_sh[(kg + j * KG) * PS + r] = p;
      sum += p;
    }
    float corr = exp(m[i] - m_new);
    l[i] = l[i] * corr + row_sum(sum);
    m[i] = m_new;
    if (kg == 0u) corr_sh[r] = corr;
  }
}

// O = O * corr + P V for this thread's rows and dimensions.
void accumulate_pv() {
#ifdef HEAD_DIM
  [[unroll]] for (uint i = 0u; i < TO; ++i) {
    float c = corr_sh[ro + i];
    acc[i][0] *= c, acc[i][1] *= c;
  }
  for (uint j = 0u; j < BK; ++j) {
    uvec4 w = v_sh[j * (D4 / 2u) + dg];
    vec4 v0 = vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)), v1 = vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w));
    [[unroll]] for (uint i = 0u; i < TO; ++i) {
      float p = p_sh[j * PS + ro + i];
      acc[i][0] += p * v0, acc[i][1] += p * v1;
    }
  }
#else
  [[unroll]] for (uint i = 0u; i < TO_MAX; ++i)
    if (i < to_n) acc[i] *= corr_sh[ro + i * rgn];
  for (uint j = 0u; j < BK && to_n > 0u; ++j) {
    vec2 v = unpackHalf2x16(v_sh[j * pairs + dg]);
    [[unroll]] for (uint i = 0u; i < TO_MAX; ++i)
      if (i < to_n) acc[i] += p_sh[j * PS + ro + i * rgn] * v;
  }
#endif
}

// dst = O / l for the rows of the batch (l_sh published).
void write_output() {
#ifdef HEAD_DIM
  [[unroll]] for (uint i = 0u; i < TO; ++i) {
    uint r = ro + i;
    if (q0 + r > last_tok) break;
    uint o = row_offset(r) / 4u + 2u * dg;
    float inv = 1.0 / l_sh[r];
    Vec4s(pc.dst).v[o] = acc[i][0] * inv;
    Vec4s(pc.dst).v[o + 1u] = acc[i][1] * inv;
  }
#else
  [[unroll]] for (uint i = 0u; i < TO_MAX; ++i) {
    uint r = ro + i * rgn;
    if (i >= to_n || q0 + r > last_tok) break;
    Vec2s(pc.dst).v[row_offset(r) / 2u + dg] = acc[i] / l_sh[r];
  }
#endif
}

void main() {
  tid = gl_LocalInvocationID.x;
#ifndef HEAD_DIM
  D = pc.head_dim;
  pairs = D / 2u;
#endif
  uint blocks = (pc.ntok + BQ - 1u) / BQ, wg = linear_workgroup();
  if (wg >= blocks * pc.n_head) return;
  head = wg % pc.n_head;
  kvh = head / (pc.n_head / pc.n_head_kv);
  q0 = (blocks - 1u - wg / pc.n_head) * BQ;  // the longest (latest) blocks start first
  last_tok = pc.ntok - 1u;
  uint key_end = pc.pos0 + min(q0 + BQ, pc.ntok);  // keys seen by the block's last row
  uint n_tiles = (key_end + BK - 1u) / BK;

  stage_load(0u, key_end);
#if defined(HEAD_DIM) && !defined(Q_GLOBAL)
  for (uint i = tid; i < BQ * D4; i += WG_SIZE)
    q_sh[(i / D4) * KS4 + i % D4] = Vec4s(pc.q).v[row_offset(i / D4) / 4u + i % D4];
#endif
  kg = tid % KG, qg = tid / KG;
  [[unroll]] for (uint i = 0u; i < TQ; ++i) m[i] = NEG_INF, l[i] = 0.0;
#ifdef HEAD_DIM
  dg = tid % DG, ro = (tid / DG) * TO;
  [[unroll]] for (uint i = 0u; i < TO; ++i) acc[i][0] = acc[i][1] = vec4(0.0);
#else
  rgn = WG_SIZE / pairs, dg = tid % pairs, ro = tid / pairs;
  to_n = ro < rgn ? (BQ - ro + rgn - 1u) / rgn : 0u;
  [[unroll]] for (uint i = 0u; i < TO_MAX; ++i) acc[i] = vec2(0.0);
#endif

  for (uint tile = 0u; tile < n_tiles; ++tile) {
    uint k0 = tile * BK;
    barrier();  // the previous tile's readers are done with k_sh, v_sh, p_sh
    stage_store();
    if (tile + 1u < n_tiles) stage_load(k0 + BK, key_end);
    barrier();
    float s[TQ][TK];
    score_tile(qg, kg, s);
    softmax_tile(k0, s);
    barrier();
    accumulate_pv();
  }

  if (kg == 0u)
    [[unroll]] for (uint i = 0u; i < TQ; ++i) l_sh[qg + i * QG] = l[i];
  barrier();
  write_output();
}
