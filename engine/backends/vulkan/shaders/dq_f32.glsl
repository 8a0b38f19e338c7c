// F32: "blocks" of 4 plain floats.
#define QK 4u
#define BLOCK_BYTES 16u
vec4 dequant4(uint64_t base, uint b, uint j) {
  uint i = b >> 2;
  Floats f = Floats(base);
  return vec4(f.f[i], f.f[i + 1u], f.f[i + 2u], f.f[i + 3u]);
}
