#version 450
// Embedding lookup: out[t] = dequant(W[ids[t]]), four elements per invocation.
#define PUSH_GET_ROWS
#include "common.glsl"
#include "push.h"
#include "dequant.glsl"
layout(local_size_x = 256) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize

void main() {
  uint gid = linear_invocation();
  uint ngroups = pc.ncols / 4u;
  if (gid >= pc.ntok * ngroups) return;
  uint t = gid / ngroups, g = gid % ngroups;
  int id = Ints(pc.ids).i[t];
  vec4 v = vec4(0.0);
  if (id >= 0 && uint(id) < pc.nrows) v = dequant4_at(pc.weight, uint(id) * pc.row_bytes, 4u * g);
  Vec4s(pc.dst).v[gid] = v;
}
