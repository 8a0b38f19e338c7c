// Q4_K / Q5_K: eight 6-bit (scale, min) pairs packed in 12 bytes at byte s0.
vec2 kquant_scale_min(uint64_t base, uint s0, uint i) {
  if (i < 4u) {
    return vec2(float(rd_u8(base, s0 + i) & 63u), float(rd_u8(base, s0 + i + 4u) & 63u));
  }
  uint a = rd_u8(base, s0 + i + 4u);
  float sc = float((a & 15u) | ((rd_u8(base, s0 + i - 4u) >> 6) << 4));
  float mn = float((a >> 4) | ((rd_u8(base, s0 + i) >> 6) << 4));
  return vec2(sc, mn);
}
