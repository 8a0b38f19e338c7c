#version 450
// Elementwise ops on n f32 values: OP_SWIGLU out = silu(a) * b; OP_ADD out = a + b.
#define PUSH_ELEMENTWISE
#include "common.glsl"
#include "push.h"
layout(local_size_x = 256) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize

void main() {
  uint i = linear_invocation();
  if (i >= pc.n) return;
  float a = Floats(pc.a).f[i], b = Floats(pc.b).f[i];
#if defined(OP_SWIGLU)
  Floats(pc.dst).f[i] = a / (1.0 + exp(-a)) * b;
#elif defined(OP_ADD)
  Floats(pc.dst).f[i] = a + b;
#else
#error "no OP_* defined"
#endif
}
