#version 450
// Streams n_vec4 16-byte words through the device, for its read bandwidth:
// each invocation reads a strided share (coalesced across the workgroup), and the XOR of what it read is
// written once per workgroup so the loads cannot be dropped.
#define PUSH_READ_BW
#include "common.glsl"
#include "push.h"
#define WG_SIZE 256
layout(local_size_x = WG_SIZE) in;

void main() {
  // Four independent 16-byte loads in flight per invocation and iteration.
  uint stride = gl_NumWorkGroups.x * WG_SIZE;
  uvec4 x = uvec4(0u);
  uint i = gl_GlobalInvocationID.x;
  for (; i + 3u * stride < pc.n_vec4; i += 4u * stride) {
    uvec4 a = UVec4s(pc.src).v[i], b = UVec4s(pc.src).v[i + stride];
    uvec4 c = UVec4s(pc.src).v[i + 2u * stride], d = UVec4s(pc.src).v[i + 3u * stride];
    x ^= a ^ b ^ c ^ d;
  }
  for (; i < pc.n_vec4; i += stride) x ^= UVec4s(pc.src).v[i];
  uint r = subgroupXor(x.x ^ x.y ^ x.z ^ x.w);
  if (subgroupElect()) Words(pc.dst).w[gl_WorkGroupID.x] ^= r;  // races only between subgroups: fine
}
