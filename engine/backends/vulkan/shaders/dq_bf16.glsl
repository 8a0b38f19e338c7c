// BF16: "blocks" of 4; a bf16 is the top half of an f32.
#define QK 4u
#define BLOCK_BYTES 8u
vec4 dequant4(uint64_t base, uint b, uint j) {
  uint lo = rd_u32(base, b), hi = rd_u32(base, b + 4u);
  return vec4(uintBitsToFloat(lo << 16), uintBitsToFloat(lo & 0xFFFF0000u),
              uintBitsToFloat(hi << 16), uintBitsToFloat(hi & 0xFFFF0000u));
}
