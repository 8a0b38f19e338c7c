// Q2_K: {u8 scales[16]; u8 qs[64]; f16 d; f16 dmin}, 256 elements.
// Element e: half h = e/128, r = e%128, shift group g = r/32, l = r%32;
// 2-bit q = qs[32h + l] >> 2g; scale byte scales[8h + 2g + l/16] holds
// (min << 4 | scale); x = d * scale * q - dmin * min.
#define QK 256u
#define BLOCK_BYTES 84u
vec4 dequant4(uint64_t base, uint b, uint j) {
  uint h = j >> 7, r = j & 127u, g = r >> 5, l = r & 31u;
  vec2 dm = unpackHalf2x16(rd_u32(base, b + 80u));
  uint sc = rd_u8(base, b + 8u * h + 2u * g + (l >> 4));
  uint q = (rd_u32(base, b + 16u + 32u * h + l) >> (2u * g)) & 0x03030303u;
  return bytes_to_vec4(q) * (dm.x * float(sc & 15u)) - dm.y * float(sc >> 4);
}
