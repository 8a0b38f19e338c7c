// Q6_K: {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}, 256 elements.
// Element e: h = e/128, r = e%128, g = r/32, l = r%32; low 4 bits from
// ql[64h + 32(g&1) + l] (high nibble when g >= 2), 2 high bits
// qh[32h + l] >> 2g; x = d * scales[8h + 2g + l/16] * (q - 32).
#define QK 256u
#define BLOCK_BYTES 210u
vec4 dequant4(uint64_t base, uint b, uint j) {
  uint h = j >> 7, r = j & 127u, g = r >> 5, l = r & 31u;
  float d = rd_f16(base, b + 208u);
  int sc = int(rd_u8(base, b + 192u + 8u * h + 2u * g + (l >> 4)) << 24) >> 24;
  uint lo = (rd_u32(base, b + 64u * h + 32u * (g & 1u) + l) >> (4u * (g >> 1))) & 0x0F0F0F0Fu;
  uint hi = (rd_u32(base, b + 128u + 32u * h + l) >> (2u * g)) & 0x03030303u;
  return (bytes_to_vec4(lo | (hi << 4)) - 32.0) * (d * float(sc));
}
