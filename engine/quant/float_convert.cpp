// Exact conversions between fp32 and the 16-bit float formats, done on the bit
// patterns so the result does not depend on the CPU (F16C or not) or on the
// compiler's rounding mode.
#include <cstdint>
#include <cstring>

#include "engine/quant/dequant.h"

namespace halo {
namespace {

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) {  // inf / nan: keep the payload, widened
    return bits_float(sign | 0x7f800000u | (mantissa << 13));
  }
  if (exponent != 0) {  // normal: rebias 15 -> 127
    return bits_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }
  if (mantissa == 0) return bits_float(sign);
  // Subnormal half: value = mantissa * 2^-24; normalise it for fp32.
  int shift = 0;
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    ++shift;
  }
  mantissa &= 0x3ffu;
  const uint32_t exp32 = 113 - shift;  // 2^-14 has biased exponent 113
  return bits_float(sign | (exp32 << 23) | (mantissa << 13));
}

uint16_t fp32_to_fp16(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) {  // nan: keep the top payload bits, force quiet
    return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  }
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: inf
  const int32_t exponent = static_cast<int32_t>(abs >> 23) - 127;
  if (exponent >= -14) {  // normal half
    // Round the 23-bit mantissa to 10 bits, nearest even; a carry into the
    // exponent field is the correct result (it can not overflow, see above).
    const uint32_t rebased = abs - (112u << 23);
    const uint32_t round = 0xfffu + ((rebased >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((rebased + round) >> 13));
  }
  if (exponent < -25) return sign;  // below half of the smallest subnormal
  // Subnormal half: shift the mantissa with its implicit bit into place.
  const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
  const uint32_t shift = static_cast<uint32_t>(-exponent - 14 + 13);  // 14..24
  const uint32_t kept = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  const bool round_up = rest > half || (rest == half && (kept & 1u));
  return static_cast<uint16_t>(sign | (kept + (round_up ? 1u : 0u)));
}

float bf16_to_fp32(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

uint16_t fp32_to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) {  // nan: truncate and force quiet
    return static_cast<uint16_t>((u >> 16) | 0x40u);
  }
  const uint32_t round = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + round) >> 16);
}

}  // namespace halo
