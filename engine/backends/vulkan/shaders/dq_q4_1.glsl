// Q4_1: {f16 d; f16 m; u8 qs[16]}; x[i] = d * nibble + m.
#define QK 32u
#define BLOCK_BYTES 20u
vec4 dequant4(uint64_t base, uint b, uint j) {
  vec2 dm = unpackHalf2x16(rd_u32(base, b));
  uint q = rd_u32(base, b + 4u + (j & 15u));
  q = (j >= 16u ? q >> 4 : q) & 0x0F0F0F0Fu;
  return bytes_to_vec4(q) * dm.x + dm.y;
}
