#version 450
// Streams n_vec4 16-byte words through the device, for its read bandwidth:
// each invocation reads a strided share, and the XOR of what it read is
// written once per workgroup so the loads cannot be dropped.
#define PUSH_READ_BW
#include "common.glsl"
#include "push.h"
#define WG_SIZE 256
layout(local_size_x = WG_SIZE) in;

void main() {
  uint stride = gl_NumWorkGroups.x * WG_SIZE;
  uvec4 x = uvec4(0u);
  for (uint i = gl_GlobalInvocationID.x; i < pc.n_vec4; i += stride) x ^= UVec4s(pc.src).v[i];
  uint r = subgroupXor(x.x ^ x.y ^ x.z ^ x.w);
  if (subgroupElect()) Words(pc.dst).w[gl_WorkGroupID.x] ^= r;  // races only between subgroups: fine
}
