// Q3_K: {u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d}, 256 elements.
// Element e: h = e/128, r = e%128, g = r/32, l = r%32; 2 low bits
// qs[32h + l] >> 2g; a clear bit (4h + g) of hmask[l] subtracts 4; 6-bit
// signed scale s = 8h + 2g + l/16 (low 4 bits in scales[s%8] >> 4*(s/8),
// high 2 bits in scales[8 + s%4] >> 2*(s/4)), minus 32.
#define QK 256u
#define BLOCK_BYTES 110u
vec4 dequant4(uint64_t base, uint b, uint j) {
  uint h = j >> 7, r = j & 127u, g = r >> 5, l = r & 31u;
  float d = rd_f16(base, b + 108u);
  uint s = 8u * h + 2u * g + (l >> 4);
  uint lo4 = (rd_u8(base, b + 96u + (s & 7u)) >> (4u * (s >> 3))) & 15u;
  uint hi2 = (rd_u8(base, b + 104u + (s & 3u)) >> (2u * (s >> 2))) & 3u;
  float dl = d * (float(lo4 | (hi2 << 4)) - 32.0);
  uint q = (rd_u32(base, b + 32u + 32u * h + l) >> (2u * g)) & 0x03030303u;
  uint hm = (rd_u32(base, b + l) >> (4u * h + g)) & 0x01010101u;
  // (hm bit clear) -> subtract 4
  return (bytes_to_vec4(q) - 4.0 * (1.0 - bytes_to_vec4(hm))) * dl;
}
