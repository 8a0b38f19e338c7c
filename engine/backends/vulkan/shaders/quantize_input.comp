#version 450
// One token's decode input quantized for the MV_XQ matvec builds (layout:
// XQ_ in push.h). For inputs no product epilogue quantized (the first
// layer's); done once instead of in every matvec workgroup, so the 8-bit
// matvec reads 4 values per word and converts no input to float. Each
// invocation takes whole blocks of 32 values.
//   x: ncols f32 -> dst: qs, d and sums of squares per block
#define PUSH_QUANTIZE
#include "common.glsl"
#include "push.h"
#define WG_SIZE 64
layout(local_size_x = WG_SIZE) in;
#include "grid.glsl"  // after local_size: it reads gl_WorkGroupSize

void main() {
  uint b = linear_invocation();
  if (b >= pc.ncols / 32u) return;
  vec4 v[8];
  float amax = 0.0, sumsq = 0.0;
  for (uint k = 0u; k < 8u; ++k) {
    v[k] = Vec4s(pc.x).v[b * 8u + k];
    sumsq += dot(v[k], v[k]);
    if (pc.norm != 0ul) v[k] *= Vec4s(pc.norm).v[b * 8u + k];
    vec4 a = abs(v[k]);
    amax = max(amax, max(max(a.x, a.y), max(a.z, a.w)));
  }
  // packSnorm4x8 rounds clamp(c, -1, 1) * 127: c = v / amax.
  float inv = amax > 0.0 ? 1.0 / amax : 0.0;
  for (uint k = 0u; k < 8u; ++k) Words(pc.dst).w[b * 8u + k] = packSnorm4x8(v[k] * inv);
  Floats(pc.dst).f[XQ_D_WORD(pc.ncols) + b] = amax / 127.0;
  Floats(pc.dst).f[XQ_SUMSQ_WORD(pc.ncols) + b] = sumsq;
}
