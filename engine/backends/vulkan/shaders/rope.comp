#version 450
// Rotary position embedding, in place, one invocation per rotated pair.
// The (cos, sin) table is computed on the host in double precision, so long
// positions keep their accuracy whatever the device's sin/cos.
#define PUSH_ROPE
#include "common.glsl"
#include "push.h"
layout(local_size_x = 256) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize

void main() {
  uint gid = linear_invocation();
  uint half_dim = pc.rope_dim / 2u;
  if (gid >= pc.ntok * pc.nheads * half_dim) return;
  uint i = gid % half_dim, th = gid / half_dim;  // th = t * nheads + h
  uint t = th / pc.nheads;
  uint cs_at = ((pc.pos0 + t) * half_dim + i) * 2u;
  float c = Floats(pc.table).f[cs_at], s = Floats(pc.table).f[cs_at + 1u];
  uint base = th * pc.head_dim;
  uint a = pc.neox != 0u ? base + i : base + 2u * i;
  uint b = pc.neox != 0u ? a + half_dim : a + 1u;
  float x0 = Floats(pc.x).f[a], x1 = Floats(pc.x).f[b];
  Floats(pc.x).f[a] = x0 * c - x1 * s;
  Floats(pc.x).f[b] = x0 * s + x1 * c;
}
