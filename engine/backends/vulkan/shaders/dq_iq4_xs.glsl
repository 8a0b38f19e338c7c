// IQ4_XS: {f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]}, 256 elements in
// 8 sub-blocks of 32 (IQ4_NL layout each, 16 bytes of qs); sub-block s has
// the 6-bit scale (scales_l[s/2] >> 4(s%2)) & 15 | ((scales_h >> 2s) & 3) << 4,
// minus 32.
#include "iq4_values.glsl"
#define QK 256u
#define BLOCK_BYTES 136u
vec4 dequant4(uint64_t base, uint b, uint j) {
  uint s = j >> 5, l = j & 31u;
  float d = rd_f16(base, b);
  uint sh = rd_u16(base, b + 2u);
  uint ls = ((rd_u8(base, b + 4u + (s >> 1)) >> (4u * (s & 1u))) & 15u) | (((sh >> (2u * s)) & 3u) << 4);
  uint q = rd_u32(base, b + 8u + 16u * s + (l & 15u));
  q = (l >= 16u ? q >> 4 : q) & 0x0F0F0F0Fu;
  return iq4_lookup(q) * (d * (float(ls) - 32.0));
}
