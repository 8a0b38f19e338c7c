// Q8_0: {f16 d; i8 qs[32]}; x[i] = d * qs[i].
#define QK 32u
#define BLOCK_BYTES 34u
vec4 dequant4(uint64_t base, uint b, uint j) {
  float d = rd_f16(base, b);
  return sbytes_to_vec4(rd_u32(base, b + 2u + j)) * d;
}
