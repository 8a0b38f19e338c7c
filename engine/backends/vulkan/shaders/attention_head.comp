#version 450
// Causal attention over the f16 KV cache, one workgroup per (query token,
// head), walking the keys in tiles of WG_SIZE with a running max and sum
// (online softmax), so no score matrix is stored. Ops::attention uses it for
// prompts attention_prompt.comp cannot take and for short batches of 2 to 8
// tokens; one-token decode runs faster in attention.comp's key splits.
// Query t sees keys [0, pos0 + t]. Each invocation scores one key of a tile,
// then owns two output dimensions (head_dim <= 2 * WG_SIZE).
#define PUSH_ATTENTION
#include "common.glsl"
#include "push.h"
#define WG_SIZE 128
layout(local_size_x = WG_SIZE) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize
#include "reduce.glsl"

shared vec2 q_sh[WG_SIZE];    // the query, scaled, two dims per entry
shared float p_sh[WG_SIZE];   // this tile's probabilities (unnormalised)

void main() {
  uint wg = linear_workgroup();
  if (wg >= pc.ntok * pc.n_head) return;
  uint t = wg / pc.n_head, h = wg % pc.n_head;
  uint kvh = h / (pc.n_head / pc.n_head_kv);
  uint tid = gl_LocalInvocationID.x;
  uint pairs = pc.head_dim / 2u;
  uint kv_words = pc.n_head_kv * pairs;  // words per cache row
  uint q_base = (t * pc.n_head + h) * pc.head_dim;
  if (tid < pairs)
    q_sh[tid] = vec2(Floats(pc.q).f[q_base + 2u * tid], Floats(pc.q).f[q_base + 2u * tid + 1u]) * pc.scale;
  barrier();

  uint n_keys = pc.pos0 + t + 1u;
  float m = -1.0 / 0.0, l = 0.0;
  vec2 acc = vec2(0.0);
  for (uint k0 = 0u; k0 < n_keys; k0 += WG_SIZE) {
    uint j = k0 + tid;
    float s = -1.0 / 0.0;
    if (j < n_keys) {
      uint kb = j * kv_words + kvh * pairs;
      // Four independent partial sums keep several loads in flight.
      vec4 s4 = vec4(0.0);
      uint d = 0u;
      for (; d + 4u <= pairs; d += 4u) {
        uint w0 = Words(pc.k_cache).w[kb + d], w1 = Words(pc.k_cache).w[kb + d + 1u];
        uint w2 = Words(pc.k_cache).w[kb + d + 2u], w3 = Words(pc.k_cache).w[kb + d + 3u];
        s4 += vec4(dot(q_sh[d], unpackHalf2x16(w0)), dot(q_sh[d + 1u], unpackHalf2x16(w1)),
                   dot(q_sh[d + 2u], unpackHalf2x16(w2)), dot(q_sh[d + 3u], unpackHalf2x16(w3)));
      }
      for (; d < pairs; ++d) s4.x += dot(q_sh[d], unpackHalf2x16(Words(pc.k_cache).w[kb + d]));
      s = s4.x + s4.y + s4.z + s4.w;
    }
    float m_new = max(m, wg_max(s));
    float p = j < n_keys ? exp(s - m_new) : 0.0;
    p_sh[tid] = p;
    float corr = exp(m - m_new);
    l = l * corr + wg_sum(p);  // wg_sum's barriers also publish p_sh
    m = m_new;
    if (tid < pairs) {
      acc *= corr;
      uint n = min(uint(WG_SIZE), n_keys - k0);
      uint vb = k0 * kv_words + kvh * pairs + tid;
      uint jj = 0u;
      vec2 acc2 = vec2(0.0);  // a second chain: twice the loads in flight
      for (; jj + 4u <= n; jj += 4u) {
        uint v0 = Words(pc.v_cache).w[vb + jj * kv_words], v1 = Words(pc.v_cache).w[vb + (jj + 1u) * kv_words];
        uint v2 = Words(pc.v_cache).w[vb + (jj + 2u) * kv_words], v3 = Words(pc.v_cache).w[vb + (jj + 3u) * kv_words];
        acc += p_sh[jj] * unpackHalf2x16(v0) + p_sh[jj + 1u] * unpackHalf2x16(v1);
        acc2 += p_sh[jj + 2u] * unpackHalf2x16(v2) + p_sh[jj + 3u] * unpackHalf2x16(v3);
      }
      for (; jj < n; ++jj) acc += p_sh[jj] * unpackHalf2x16(Words(pc.v_cache).w[vb + jj * kv_words]);
      acc += acc2;
    }
    barrier();
  }
  if (tid < pairs) {
    Floats(pc.dst).f[q_base + 2u * tid] = acc.x / l;
    Floats(pc.dst).f[q_base + 2u * tid + 1u] = acc.y / l;
  }
}
