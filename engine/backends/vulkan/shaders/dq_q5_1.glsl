// Q5_1: {f16 d; f16 m; u8 qh[4]; u8 qs[16]}; x[i] = d * q + m.
#define QK 32u
#define BLOCK_BYTES 24u
vec4 dequant4(uint64_t base, uint b, uint j) {
  vec2 dm = unpackHalf2x16(rd_u32(base, b));
  uint qh = rd_u32(base, b + 4u) >> j;
  uint q = rd_u32(base, b + 8u + (j & 15u));
  q = (j >= 16u ? q >> 4 : q) & 0x0F0F0F0Fu;
  uint h = (qh & 1u) | ((qh & 2u) << 7) | ((qh & 4u) << 14) | ((qh & 8u) << 21);
  return bytes_to_vec4(q | (h << 4)) * dm.x + dm.y;
}
