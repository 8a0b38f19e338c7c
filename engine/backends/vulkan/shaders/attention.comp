#version 450
// Causal attention over the f16 KV cache, flash-attention style (see
// AttentionPush). A workgroup owns a block of query rows that share one KV
// head (GQA group members, then consecutive tokens) and walks its keys in
// tiles: K and V tile (keys x head_dim f16) staged in shared memory once
// and used by every row, scores S (rows x keys), an online softmax per row
// (running max m and sum l), then O (rows x head_dim) += P V in registers.
// Row (t, h) sees keys [0, pos0 + t]. ATT_DECODE builds the variant with
// few rows and long key tiles, for one token's GQA group; HEAD_DIM fixes
// the head size at build time.
#define PUSH_ATTENTION
#include "common.glsl"
#include "push.h"
#define WG_SIZE ATTN_WG
layout(local_size_x = WG_SIZE) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize

#ifdef ATT_DECODE
#define MAX_ROWS ATTN_DECODE_MAX_ROWS
#define Q_PAIRS ATTN_DECODE_Q_PAIRS
#define KV_WORDS ATTN_DECODE_KV_WORDS
#define S_FLOATS ATTN_DECODE_S_FLOATS
#ifdef DECODE_RPT  // builds for small groups: fewer rows per invocation, fewer idle unrolled steps
#define RPT DECODE_RPT
#else
#define RPT ATTN_DECODE_ROWS_PER_THREAD
#endif
#define LOAD_UNROLL 8u
#else
#define MAX_ROWS ATTN_PROMPT_MAX_ROWS
#define Q_PAIRS ATTN_PROMPT_Q_PAIRS
#define KV_WORDS ATTN_PROMPT_KV_WORDS
#define S_FLOATS ATTN_PROMPT_S_FLOATS
#define RPT ATTN_PROMPT_ROWS_PER_THREAD
#define LOAD_UNROLL 4u
#endif
#define NO_KEY -1e30  // running max before any key: finite, so exp(NO_KEY - m) is 0, never NaN

shared vec2 q_sh[Q_PAIRS];    // rows x pairs, scaled
shared uint k_sh[KV_WORDS];   // keys x (pairs + 1): the pad word spreads a column over banks
shared uint v_sh[KV_WORDS];
shared float s_sh[S_FLOATS];  // rows x keys_per_tile: scores, then probabilities
shared float m_sh[MAX_ROWS], l_sh[MAX_ROWS], corr_sh[MAX_ROWS];

uint tid, kvh, group, row0, rows;
#ifdef HEAD_DIM  // builds for common head sizes: loops over dimensions unroll
const uint pairs = HEAD_DIM / 2u, stride = pairs + 1u;
#else
uint pairs, stride;
#endif

uint row_token(uint r) { return (row0 + r) / group; }
uint row_head(uint r) { return kvh * group + (row0 + r) % group; }
uint row_offset(uint r) { return (row_token(r) * pc.n_head + row_head(r)) * pc.head_dim; }

// How many of rows first, first + step, ... exist; none for an idle group.
uint rows_of(uint first, uint step) { return first < rows ? (rows - first + step - 1u) / step : 0u; }

// Copies keys [k0, k0 + nk) of this KV head into k_sh/v_sh, LOAD_UNROLL
// loads of each per invocation in flight; 16-byte loads when rows allow.
void load_tile(uint k0, uint nk) {
  bool wide = (pairs & 3u) == 0u && ((pc.k_cache | pc.v_cache) & 15ul) == 0ul;
  uint per_key = wide ? pairs / 4u : pairs, n = nk * per_key;
  uint row_units = pc.n_head_kv * per_key, base = k0 * row_units + kvh * per_key;
  for (uint i0 = tid; i0 < n; i0 += LOAD_UNROLL * WG_SIZE) {
    uvec4 kq[LOAD_UNROLL], vq[LOAD_UNROLL];
    for (uint u = 0u; u < LOAD_UNROLL; ++u) {
      uint i = i0 + u * WG_SIZE, off = base + (i / per_key) * row_units + i % per_key;
      if (i >= n) break;
      if (wide) {
        kq[u] = UVec4s(pc.k_cache).v[off];
        vq[u] = UVec4s(pc.v_cache).v[off];
      } else {
        kq[u].x = Words(pc.k_cache).w[off];
        vq[u].x = Words(pc.v_cache).w[off];
      }
    }
    for (uint u = 0u; u < LOAD_UNROLL; ++u) {
      uint i = i0 + u * WG_SIZE;
      if (i >= n) break;
      uint j = i / per_key, c = i % per_key;
      if (wide) {
        uint s = j * stride + 4u * c;
        k_sh[s] = kq[u].x, k_sh[s + 1u] = kq[u].y, k_sh[s + 2u] = kq[u].z, k_sh[s + 3u] = kq[u].w;
        v_sh[s] = vq[u].x, v_sh[s + 1u] = vq[u].y, v_sh[s + 2u] = vq[u].z, v_sh[s + 3u] = vq[u].w;
      } else {
        k_sh[j * stride + c] = kq[u].x;
        v_sh[j * stride + c] = vq[u].x;
      }
    }
  }
}

// s_sh[r][j] = q_r . k_j for key column tid % kt, rows tid / kt + i * (WG / kt);
// keys a row may not see get -inf.
void score_tile(uint k0, uint nk, uint kt) {
  uint j = tid % kt, rg = tid / kt, ng = WG_SIZE / kt;
  if (rg >= ng || j >= nk) return;
  uint nr = rows_of(rg, ng);
  float s[RPT];
  for (uint i = 0u; i < RPT; ++i) s[i] = 0.0;
  for (uint d = 0u; d < pairs; ++d) {
    vec2 k = unpackHalf2x16(k_sh[j * stride + d]);
    for (uint i = 0u; i < RPT; ++i)
      if (i < nr) s[i] += dot(q_sh[(rg + i * ng) * pairs + d], k);
  }
  for (uint i = 0u; i < RPT; ++i) {
    uint r = rg + i * ng;
    if (r >= rows) break;
    bool visible = k0 + j <= pc.pos0 + row_token(r);
    s_sh[r * kt + j] = visible ? s[i] : -1.0 / 0.0;
  }
}

// Online softmax, one subgroup per row: scores become exp(s - m_new), and
// corr_sh gets the factor that rescales the row's earlier output.
void softmax_tile(uint nk, uint kt) {
  for (uint r = gl_SubgroupID; r < rows; r += gl_NumSubgroups) {
    float mx = -1.0 / 0.0;
    for (uint j = gl_SubgroupInvocationID; j < nk; j += gl_SubgroupSize) mx = max(mx, s_sh[r * kt + j]);
    float m_old = m_sh[r], m_new = max(m_old, subgroupMax(mx));
    float sum = 0.0;
    for (uint j = gl_SubgroupInvocationID; j < nk; j += gl_SubgroupSize) {
      float s = s_sh[r * kt + j];
      float p = s > NO_KEY ? exp(s - m_new) : 0.0;
      s_sh[r * kt + j] = p;
      sum += p;
    }
    sum = subgroupAdd(sum);
    if (subgroupElect()) {
      float corr = exp(m_old - m_new);
      corr_sh[r] = corr;
      l_sh[r] = l_sh[r] * corr + sum;
      m_sh[r] = m_new;
    }
  }
}

void main() {
  tid = gl_LocalInvocationID.x;
  group = pc.n_head / pc.n_head_kv;
#ifndef HEAD_DIM
  pairs = pc.head_dim / 2u;
  stride = pairs + 1u;
#endif
  uint kvh_rows = pc.ntok * group, R = pc.rows_per_block, kt = pc.keys_per_tile;
  uint blocks = (kvh_rows + R - 1u) / R;
  uint wg = linear_workgroup();
  if (wg >= pc.n_head_kv * blocks * pc.n_split) return;
  uint split = wg % pc.n_split, rest = wg / pc.n_split;
  kvh = rest % pc.n_head_kv;
  uint block = blocks - 1u - rest / pc.n_head_kv;  // the longest (latest) rows start first
  row0 = block * R;
  rows = min(R, kvh_rows - row0);

  // The query is loaded into registers here and stored after the first K/V
  // tile's loads are issued, so the two memory round trips overlap.
  vec2 q_reg[Q_PAIRS / WG_SIZE];
  for (uint u = 0u; u < Q_PAIRS / WG_SIZE; ++u) {
    uint i = tid + u * WG_SIZE, o = row_offset(min(i / pairs, rows - 1u)) + 2u * (i % pairs);
    if (i < rows * pairs) q_reg[u] = vec2(Floats(pc.q).f[o], Floats(pc.q).f[o + 1u]) * pc.scale;
  }
  if (tid < rows) m_sh[tid] = NO_KEY, l_sh[tid] = 0.0;

  // Output rows tid / pairs + i * (WG / pairs), pair tid % pairs.
  uint od = tid % pairs, org = tid / pairs, ong = WG_SIZE / pairs, nro = org < ong ? rows_of(org, ong) : 0u;
  vec2 acc[RPT];
  for (uint i = 0u; i < RPT; ++i) acc[i] = vec2(0.0);

  uint key_begin = split * pc.chunk;
  uint key_end = min(pc.pos0 + row_token(rows - 1u) + 1u, key_begin + pc.chunk);
  for (uint k0 = key_begin; k0 < key_end; k0 += kt) {
    uint nk = min(kt, key_end - k0);
    load_tile(k0, nk);
    if (k0 == key_begin)
      for (uint u = 0u; u < Q_PAIRS / WG_SIZE; ++u)
        if (tid + u * WG_SIZE < rows * pairs) q_sh[tid + u * WG_SIZE] = q_reg[u];
    barrier();
    score_tile(k0, nk, kt);
    barrier();
    softmax_tile(nk, kt);
    barrier();
    for (uint i = 0u; i < RPT; ++i)
      if (i < nro) acc[i] *= corr_sh[org + i * ong];
    for (uint j = 0u; j < nk && nro > 0u; ++j) {
      vec2 v = unpackHalf2x16(v_sh[j * stride + od]);
      for (uint i = 0u; i < RPT; ++i)
        if (i < nro) acc[i] += s_sh[(org + i * ong) * kt + j] * v;
    }
    barrier();  // the next tile overwrites k_sh, v_sh, s_sh
  }
  barrier();  // publishes m_sh and l_sh when this split has no keys

  uint n_rows = pc.ntok * pc.n_head, part_stride = pc.head_dim + 2u;
  if (pc.n_split > 1u && tid < rows) {
    uint p = (split * n_rows + row_offset(tid) / pc.head_dim) * part_stride;
    Floats(pc.partials).f[p] = m_sh[tid];
    Floats(pc.partials).f[p + 1u] = l_sh[tid];
  }
  for (uint i = 0u; i < RPT; ++i) {
    uint r = org + i * ong;
    if (i >= nro) break;
    if (pc.n_split > 1u) {
      uint p = (split * n_rows + row_offset(r) / pc.head_dim) * part_stride + 2u + 2u * od;
      Floats(pc.partials).f[p] = acc[i].x;
      Floats(pc.partials).f[p + 1u] = acc[i].y;
    } else {
      uint o = row_offset(r) + 2u * od;
      Floats(pc.dst).f[o] = acc[i].x / l_sh[r];
      Floats(pc.dst).f[o + 1u] = acc[i].y / l_sh[r];
    }
  }
}
