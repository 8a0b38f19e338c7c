#version 450
// Converts K and V rows to f16 and stores them at cache rows pos0.. (two
// halves per 32-bit word; kv_dim is even).
#define PUSH_KV_STORE
#include "common.glsl"
#include "push.h"
layout(local_size_x = 256) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize

void main() {
  uint gid = linear_invocation();
  uint words = pc.kv_dim / 2u;
  if (gid >= pc.ntok * words) return;
  uint dst = pc.pos0 * words + gid;
  Words(pc.k_cache).w[dst] = packHalf2x16(vec2(Floats(pc.k).f[2u * gid], Floats(pc.k).f[2u * gid + 1u]));
  Words(pc.v_cache).w[dst] = packHalf2x16(vec2(Floats(pc.v).f[2u * gid], Floats(pc.v).f[2u * gid + 1u]));
}
