// Shared by every kernel: buffer-reference types and byte readers.
// Tensors are passed as device addresses; quantized blocks are read through
// 32-bit words because block sizes (18, 17, 110 bytes...) break any wider
// alignment, and this needs no 8/16-bit storage features.
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(buffer_reference, std430, buffer_reference_align = 4) buffer Words { uint w[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float f[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Ints { int i[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) buffer Vec4s { vec4 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) buffer UVec4s { uvec4 v[]; };

uint rd_u8(uint64_t base, uint off) {
  return (Words(base).w[off >> 2] >> ((off & 3u) * 8u)) & 0xFFu;
}
// off must be even.
uint rd_u16(uint64_t base, uint off) {
  return (Words(base).w[off >> 2] >> ((off & 2u) * 8u)) & 0xFFFFu;
}
// Any alignment; may read up to 3 bytes past the value (pool allocations are padded).
uint rd_u32(uint64_t base, uint off) {
  uint s = (off & 3u) * 8u;
  uint lo = Words(base).w[off >> 2];
  if (s == 0u) return lo;
  uint hi = Words(base).w[(off >> 2) + 1u];
  return (lo >> s) | (hi << (32u - s));
}
float rd_f16(uint64_t base, uint off) { return unpackHalf2x16(rd_u16(base, off)).x; }

vec4 bytes_to_vec4(uint q) {
  return vec4(float(q & 0xFFu), float((q >> 8) & 0xFFu), float((q >> 16) & 0xFFu), float(q >> 24));
}
// Sign-extends the four bytes of q.
vec4 sbytes_to_vec4(uint q) {
  ivec4 v = ivec4(int(q << 24), int(q << 16), int(q << 8), int(q)) >> 24;
  return vec4(v);
}
