// F16: "blocks" of 4 halves.
#define QK 4u
#define BLOCK_BYTES 8u
vec4 dequant4(uint64_t base, uint b, uint j) {
  uint lo = rd_u32(base, b), hi = rd_u32(base, b + 4u);
  return vec4(unpackHalf2x16(lo), unpackHalf2x16(hi));
}
