// Q5_0: {f16 d; u8 qh[4]; u8 qs[16]}; bit i of qh is the fifth bit of
// element i; x[i] = d * (q - 16).
#define QK 32u
#define BLOCK_BYTES 22u
vec4 dequant4(uint64_t base, uint b, uint j) {
  float d = rd_f16(base, b);
  uint qh = rd_u32(base, b + 2u) >> j;
  uint q = rd_u32(base, b + 6u + (j & 15u));
  q = (j >= 16u ? q >> 4 : q) & 0x0F0F0F0Fu;
  uint h = (qh & 1u) | ((qh & 2u) << 7) | ((qh & 4u) << 14) | ((qh & 8u) << 21);
  return (bytes_to_vec4(q | (h << 4)) - 16.0) * d;
}
