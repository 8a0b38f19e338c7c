// Q4_K: {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}, 256 elements in
// chunks of 64: element e: c = e/64, sub = (e%64)/32, l = e%32; nibble
// (low for sub 0) of qs[32c + l]; x = d * sc[2c+sub] * q - dmin * mn[2c+sub].
#include "kquant_scales.glsl"
#define QK 256u
#define BLOCK_BYTES 144u
vec4 dequant4(uint64_t base, uint b, uint j) {
  uint c = j >> 6, sub = (j >> 5) & 1u, l = j & 31u;
  vec2 dm = unpackHalf2x16(rd_u32(base, b));
  vec2 sm = kquant_scale_min(base, b + 4u, 2u * c + sub);
  uint q = (rd_u32(base, b + 16u + 32u * c + l) >> (4u * sub)) & 0x0F0F0F0Fu;
  return bytes_to_vec4(q) * (dm.x * sm.x) - dm.y * sm.y;
}
