// Q4_0: {f16 d; u8 qs[16]}; x[i] = d * (nibble - 8); low nibbles are
// elements 0..15, high nibbles 16..31.
#define QK 32u
#define BLOCK_BYTES 18u
vec4 dequant4(uint64_t base, uint b, uint j) {
  float d = rd_f16(base, b);
  uint q = rd_u32(base, b + 2u + (j & 15u));
  q = (j >= 16u ? q >> 4 : q) & 0x0F0F0F0Fu;
  return (bytes_to_vec4(q) - 8.0) * d;
}
