// Encoders of the types that store one signed scale per group of values and
// codes from a fixed book: Q6_K (integers -32..31 per 16 values, int8
// scales under an fp16 super-scale), IQ4_NL and IQ4_XS (the 16-value
// non-linear IQ4 book; IQ4_XS adds 6-bit sub-block scales under an fp16
// super-scale) and MXFP4 (FP4 E2M1 values under a power-of-two scale).
//
// A group's scale is fitted by trying a few scales that map its value of
// largest magnitude near either end of the book, taking each one's nearest
// codes, refitting the scale to those codes by least squares, and keeping
// the fit of lowest squared error. The stored (rounded) scales are then
// chosen, and the codes recomputed against the scales the decoder will see.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "engine/quant/dequant.h"
#include "engine/quant/quantize_blocks.h"

namespace halo::quant_detail {
namespace {

constexpr int kQK = 256;
constexpr int kGridSteps = 2;       // candidate scales on each side of each base one
constexpr float kGridStep = 0.5f;   // in units of the book's largest magnitude code

// Nearest integer code in [lo, hi]; callers pass finite values. The value
// is computed in floats so the fitting loops vectorise.
struct IntegerBook {
  int lo, hi;
  float first() const { return static_cast<float>(lo); }
  float last() const { return static_cast<float>(hi); }
  float nearest_value(float v) const { return std::min(std::max(std::floor(v + 0.5f), first()), last()); }
  int nearest(float v) const { return static_cast<int>(nearest_value(v)); }
};

// The IQ4 book, ascending; a code is its index.
constexpr std::array<int, 16> kIq4Book = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// Every midpoint between neighbouring IQ4 values is a multiple of 1/2, so a
// table over half-unit bins of [-128, 128) gives the nearest code of any
// value exactly (a value on a midpoint takes the upper code).
constexpr int kIq4Bins = 512;
constexpr std::array<uint8_t, kIq4Bins> make_iq4_bins() {
  std::array<uint8_t, kIq4Bins> bins{};
  int code = 0;
  for (int b = 0; b < kIq4Bins; ++b) {
    const int twice_v = b - kIq4Bins / 2;  // the bin's lower end, doubled
    while (code < 15 && twice_v >= kIq4Book[code] + kIq4Book[code + 1]) ++code;
    bins[b] = static_cast<uint8_t>(code);
  }
  return bins;
}
constexpr std::array<uint8_t, kIq4Bins> kIq4NearestByBin = make_iq4_bins();

struct Iq4Book {
  float first() const { return static_cast<float>(kIq4Book.front()); }
  float last() const { return static_cast<float>(kIq4Book.back()); }
  int nearest(float v) const {
    const float twice = std::min(std::max(std::floor(2.0f * v), -kIq4Bins / 2.0f), kIq4Bins / 2.0f - 1);
    return kIq4NearestByBin[static_cast<int>(twice) + kIq4Bins / 2];
  }
  float nearest_value(float v) const { return static_cast<float>(kIq4Book[nearest(v)]); }
};

// A fitted scale and the squared error it leaves.
struct ScaleFit {
  float scale = 0;
  float error = 0;
};

// The best scale s for x[0..n) ≈ s * book[code]. s may be negative (the
// books are not symmetric, so the sign picks which end the extreme value uses).
template <typename Book>
ScaleFit fit_scale(const float* x, int n, const Book& book) {
  float extreme = 0, sxx = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > std::fabs(extreme)) extreme = x[i];
    sxx += x[i] * x[i];
  }
  ScaleFit best{0, sxx};
  if (extreme == 0) return best;
  const float span = std::max(std::fabs(book.first()), std::fabs(book.last()));
  for (float end : {book.first(), book.last()}) {
    for (int step = -kGridSteps; step <= kGridSteps; ++step) {
      const float target = end + (end < 0 ? 1.0f : -1.0f) * kGridStep * span / 8 * static_cast<float>(step);
      if (target == 0 || (target < 0) != (end < 0)) continue;
      const float inv = target / extreme;
      float sxt = 0, stt = 0;
      for (int i = 0; i < n; ++i) {
        const float t = book.nearest_value(x[i] * inv);
        sxt += x[i] * t;
        stt += t * t;
      }
      if (stt <= 0) continue;
      // With the codes fixed, s = sxt / stt leaves error sxx - sxt^2 / stt.
      const float error = sxx - sxt * sxt / stt;
      if (error < best.error) best = {sxt / stt, error};
    }
  }
  return best;
}

// Codes of x[0..n) against a decoded scale (code `zero` where the scale is 0).
template <typename Book>
void nearest_codes(const float* x, int n, float scale, const Book& book, int zero, int* codes) {
  const float inv = scale != 0 ? 1.0f / scale : 0.0f;
  for (int i = 0; i < n; ++i) codes[i] = scale != 0 ? book.nearest(x[i] * inv) : zero;
}

// The IQ4 book's code nearest to zero, for groups whose scale is zero.
constexpr int kIq4ZeroCode = 8;  // value 1

// block_q6_K (210 bytes): ql[128], qh[64], int8 scales[16], fp16 d; value =
// d * scale[e / 16] * (code - 32) with 6-bit codes. In each half of 128,
// element l + 32k takes the low nibble (k < 2) or high nibble of
// ql[64h + l + 32(k % 2)] and bits 2k..2k+1 of qh[32h + l].
void quantize_q6_k_block(const float* x, uint8_t* dst) {
  constexpr int kSub = 16, kSubBlocks = kQK / kSub;
  const IntegerBook book{-32, 31};
  float scales[kSubBlocks], extreme = 0;
  for (int s = 0; s < kSubBlocks; ++s) {
    scales[s] = fit_scale(x + s * kSub, kSub, book).scale;
    if (std::fabs(scales[s]) > std::fabs(extreme)) extreme = scales[s];
  }
  // The sub-block scale of largest magnitude maps to -128, the int8 end with room.
  const uint16_t d_bits = fp32_to_fp16(extreme / -128.0f);
  const float d = fp16_to_fp32(d_bits);
  int8_t sc[kSubBlocks];
  const IntegerBook scale_book{-128, 127};
  for (int s = 0; s < kSubBlocks; ++s) sc[s] = static_cast<int8_t>(d != 0 ? scale_book.nearest(scales[s] / d) : 0);
  int codes[kQK];
  for (int s = 0; s < kSubBlocks; ++s)
    nearest_codes(x + s * kSub, kSub, d * static_cast<float>(sc[s]), book, 0, codes + s * kSub);
  uint8_t* ql = dst;
  uint8_t* qh = dst + 128;
  std::memset(dst, 0, 192);
  for (int e = 0; e < kQK; ++e) {
    const int code = codes[e] + 32, h = e / 128, l = e % 32, k = (e % 128) / 32;
    ql[64 * h + l + 32 * (k % 2)] |= static_cast<uint8_t>((code & 0x0f) << (4 * (k / 2)));
    qh[32 * h + l] |= static_cast<uint8_t>((code >> 4) << (2 * k));
  }
  std::memcpy(dst + 192, sc, kSubBlocks);
  std::memcpy(dst + 208, &d_bits, 2);
}

// 32 IQ4 codes as IQ4_NL / IQ4_XS store them: byte j holds element j in its
// low nibble and element j + 16 in its high nibble.
void pack_iq4(const int* codes, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(codes[j] | (codes[j + 16] << 4));
}

// block_iq4_nl (18 bytes): fp16 d, qs[16]; value = d * book[code].
void quantize_iq4_nl_block(const float* x, uint8_t* dst) {
  const Iq4Book book;
  const uint16_t d_bits = fp32_to_fp16(fit_scale(x, 32, book).scale);
  int codes[32];
  nearest_codes(x, 32, fp16_to_fp32(d_bits), book, kIq4ZeroCode, codes);
  std::memcpy(dst, &d_bits, 2);
  pack_iq4(codes, dst + 2);
}

// block_iq4_xs (136 bytes): fp16 d, u16 scales_h, u8 scales_l[4], qs[128];
// sub-block s of 32 has the 6-bit scale ls (low nibble s % 2 of
// scales_l[s / 2], high 2 bits at bit 2s of scales_h): value = d * (ls - 32) * book[code].
void quantize_iq4_xs_block(const float* x, uint8_t* dst) {
  constexpr int kSub = 32, kSubBlocks = kQK / kSub;
  const Iq4Book book;
  float scales[kSubBlocks], extreme = 0;
  for (int s = 0; s < kSubBlocks; ++s) {
    scales[s] = fit_scale(x + s * kSub, kSub, book).scale;
    if (std::fabs(scales[s]) > std::fabs(extreme)) extreme = scales[s];
  }
  const uint16_t d_bits = fp32_to_fp16(extreme / -32.0f);  // the largest scale maps to -32
  const float d = fp16_to_fp32(d_bits);
  const IntegerBook scale_book{-32, 31};
  uint16_t scales_h = 0;
  uint8_t scales_l[4] = {0, 0, 0, 0};
  for (int s = 0; s < kSubBlocks; ++s) {
    const int ls = (d != 0 ? scale_book.nearest(scales[s] / d) : 0) + 32;
    scales_l[s / 2] |= static_cast<uint8_t>((ls & 0x0f) << (4 * (s % 2)));
    scales_h |= static_cast<uint16_t>((ls >> 4) << (2 * s));
    int codes[kSub];
    nearest_codes(x + s * kSub, kSub, d * static_cast<float>(ls - 32), book, kIq4ZeroCode, codes);
    pack_iq4(codes, dst + 8 + 16 * s);
  }
  std::memcpy(dst, &d_bits, 2);
  std::memcpy(dst + 2, &scales_h, 2);
  std::memcpy(dst + 4, scales_l, 4);
}

// FP4 (E2M1) magnitudes; code c < 8 is +magnitude[c], c + 8 its negative.
constexpr std::array<float, 8> kFp4Magnitudes = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};

// Counting the midpoints below |v| (branch-free: the fitting loop runs it
// three times per value).
int nearest_fp4(float v) {
  const float a = std::fabs(v);
  const int c = (a > 0.25f) + (a > 0.75f) + (a > 1.25f) + (a > 1.75f) + (a > 2.5f) + (a > 3.5f) + (a > 5.0f);
  return c == 0 ? 0 : (v < 0 ? c + 8 : c);
}

float fp4_value(int code) { return code < 8 ? kFp4Magnitudes[code] : -kFp4Magnitudes[code - 8]; }

// Squared error of x[0..32) in FP4 codes under scale 2^e.
float fp4_error(const float* x, int e) {
  const float scale = std::ldexp(1.0f, e), inv = std::ldexp(1.0f, -e);
  float err = 0;
  for (int i = 0; i < 32; ++i) {
    const float r = x[i] - scale * fp4_value(nearest_fp4(x[i] * inv));
    err += r * r;
  }
  return err;
}

// block_mxfp4 (17 bytes): E8M0 exponent byte E (scale 2^(E - 127)), qs[16]
// (element j low nibble, j + 16 high nibble). Tries the smallest scale that
// keeps the largest value within 6 and the two next to it.
void quantize_mxfp4_block(const float* x, uint8_t* dst) {
  float amax = 0;
  for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
  int best_e = -127;
  if (amax > 0) {
    const int e0 = static_cast<int>(std::ceil(std::log2(amax / 6.0f)));
    float best_err = INFINITY;
    for (int e = e0 - 1; e <= e0 + 1; ++e) {
      const int clamped = std::clamp(e, -127, 127);
      if (const float err = fp4_error(x, clamped); err < best_err) best_err = err, best_e = clamped;
    }
  }
  dst[0] = static_cast<uint8_t>(best_e + 127);
  const float inv = std::ldexp(1.0f, -best_e);
  int codes[32];
  for (int i = 0; i < 32; ++i) codes[i] = nearest_fp4(x[i] * inv);
  pack_iq4(codes, dst + 1);
}

}  // namespace

void quantize_q6_k(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b) quantize_q6_k_block(src + b * kQK, dst + b * 210);
}

void quantize_iq4_nl(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b) quantize_iq4_nl_block(src + b * 32, dst + b * 18);
}

void quantize_iq4_xs(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b) quantize_iq4_xs_block(src + b * kQK, dst + b * 136);
}

void quantize_mxfp4(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b) quantize_mxfp4_block(src + b * 32, dst + b * 17);
}

}  // namespace halo::quant_detail
