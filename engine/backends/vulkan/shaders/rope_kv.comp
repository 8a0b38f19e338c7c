#version 450
// Decode-path fusion of RoPE and the KV store: rotates Q in place and K on
// its way into the f16 cache, and stores V, in one dispatch. One invocation
// per Q pair (in place), then one per K and V cache word.
#define PUSH_KV_STORE
#include "common.glsl"
#include "push.h"
layout(local_size_x = 256) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize

vec2 rotate(vec2 x, uint t, uint i) {
  uint half_dim = pc.rope_dim / 2u;
  uint at = ((pc.pos0 + t) * half_dim + i) * 2u;
  float c = Floats(pc.table).f[at], s = Floats(pc.table).f[at + 1u];
  return vec2(x.x * c - x.y * s, x.x * s + x.y * c);
}

// Element indices of pair i in a head starting at base.
uvec2 pair_of(uint base, uint i) {
  uint half_dim = pc.rope_dim / 2u;
  uint a = pc.neox != 0u ? base + i : base + 2u * i;
  return uvec2(a, pc.neox != 0u ? a + half_dim : a + 1u);
}

// Element e of the head at base after rotation (source not modified).
float rope_elem(uint64_t src, uint base, uint e, uint t) {
  float x = Floats(src).f[base + e];
  if (e >= pc.rope_dim) return x;
  uint half_dim = pc.rope_dim / 2u;
  bool first = pc.neox != 0u ? e < half_dim : (e & 1u) == 0u;
  uint i = pc.neox != 0u ? (first ? e : e - half_dim) : e >> 1;
  uint partner = pc.neox != 0u ? (first ? e + half_dim : e - half_dim) : (first ? e + 1u : e - 1u);
  uint at = ((pc.pos0 + t) * half_dim + i) * 2u;
  float c = Floats(pc.table).f[at], s = Floats(pc.table).f[at + 1u];
  float y = Floats(src).f[base + partner];
  return first ? x * c - y * s : y * s + x * c;
}

void main() {
  uint gid = linear_invocation();
  uint hd2 = pc.head_dim / 2u;  // pairs per head (rotated or not)
  uint n_kv_head = pc.kv_dim / pc.head_dim;
  uint q_pairs = pc.ntok * pc.n_head * hd2, k_words = pc.ntok * n_kv_head * hd2;  // == ntok * kv_dim/2: K words
  uint words = pc.kv_dim / 2u;
  if (gid < q_pairs) {
    uint i = gid % hd2, th = gid / hd2, t = th / pc.n_head;
    if (i >= pc.rope_dim / 2u) return;  // dims past rope_dim stay as they are
    uvec2 p = pair_of(th * pc.head_dim, i);
    vec2 r = rotate(vec2(Floats(pc.q).f[p.x], Floats(pc.q).f[p.y]), t, i);
    Floats(pc.q).f[p.x] = r.x;
    Floats(pc.q).f[p.y] = r.y;
  } else if (gid < q_pairs + k_words) {
    // One cache word (two adjacent K elements), each rotated from its source.
    uint g = gid - q_pairs, th = g / hd2, t = th / n_kv_head, e = 2u * (g % hd2);
    uint base = th * pc.head_dim;
    Words(pc.k_cache).w[pc.pos0 * words + g] =
        packHalf2x16(vec2(rope_elem(pc.k, base, e, t), rope_elem(pc.k, base, e + 1u, t)));
  } else if (gid < q_pairs + k_words + pc.ntok * words) {
    uint g = gid - q_pairs - k_words;
    uint dst = pc.pos0 * words + g;
    Words(pc.v_cache).w[dst] = packHalf2x16(vec2(Floats(pc.v).f[2u * g], Floats(pc.v).f[2u * g + 1u]));
  }
}
