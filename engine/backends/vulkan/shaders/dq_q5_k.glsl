// Q5_K: {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}: Q4_K plus
// a fifth bit, bit (2c + sub) of qh[l].
#include "kquant_scales.glsl"
#define QK 256u
#define BLOCK_BYTES 176u
vec4 dequant4(uint64_t base, uint b, uint j) {
  uint c = j >> 6, sub = (j >> 5) & 1u, l = j & 31u;
  vec2 dm = unpackHalf2x16(rd_u32(base, b));
  vec2 sm = kquant_scale_min(base, b + 4u, 2u * c + sub);
  uint q = (rd_u32(base, b + 48u + 32u * c + l) >> (4u * sub)) & 0x0F0F0F0Fu;
  uint hb = (rd_u32(base, b + 16u + l) >> (2u * c + sub)) & 0x01010101u;
  return bytes_to_vec4(q | (hb << 4)) * (dm.x * sm.x) - dm.y * sm.y;
}
