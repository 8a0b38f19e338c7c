// MXFP4: {u8 e; u8 qs[16]}, 32 elements; e is an E8M0 exponent and the
// nibbles index FP4 (E2M1) values, stored doubled so the scale is 2^(e-128).
#define QK 32u
#define BLOCK_BYTES 17u
const float kFp4Values[16] = float[16](0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0,
                                       0.0, -1.0, -2.0, -3.0, -4.0, -6.0, -8.0, -12.0);
vec4 dequant4(uint64_t base, uint b, uint j) {
  uint e = rd_u8(base, b);
  float d = e < 2u ? uintBitsToFloat(0x00200000u << e) : uintBitsToFloat((e - 1u) << 23);
  uint q = rd_u32(base, b + 1u + (j & 15u));
  q = (j >= 16u ? q >> 4 : q) & 0x0F0F0F0Fu;
  return vec4(kFp4Values[q & 15u], kFp4Values[(q >> 8) & 15u], kFp4Values[(q >> 16) & 15u],
              kFp4Values[q >> 24]) * d;
}
