// Q4_K and Q5_K encoders. A 256-element super-block holds 8 sub-blocks of
// 32; each sub-block is approximated as scale * q - min with q in 0..15
// (Q4_K) or 0..31 (Q5_K), scale >= 0 and min >= 0. Per sub-block we try a small grid of scales (9 candidates), fit
// scale and min by least squares for each candidate's codes, and keep the fit
// with the lowest squared error. The sub-block scales and mins are then stored as
// 6-bit multiples of two fp16 super-scales, and the codes are recomputed
// against the values that will actually be decoded.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/quant/dequant.h"
#include "engine/quant/dequant_blocks.h"
#include "engine/quant/quantize_blocks.h"

namespace halo::quant_detail {
namespace {

constexpr int kQK = 256;
constexpr int kSub = 32;
constexpr int kSubBlocks = kQK / kSub;
constexpr int kMaxScale6 = 63;
constexpr int kGridSteps = 4;     // candidate scales tried on each side of the naive one
constexpr float kGridStep = 0.25f;  // in codes over the sub-block's range

struct SubFit {
  float scale = 0;  // >= 0
  float min = 0;    // >= 0, subtracted
};

// Nearest code for v >= -0.5 (what the callers pass), clamped to 0..hi;
// inline rather than lround, which dominates the cost otherwise.
int clamp_code(float v, int hi) {
  const int q = static_cast<int>(v + 0.5f);
  return q < 0 ? 0 : (q > hi ? hi : q);
}

// Sums that determine the least-squares fit of x ≈ scale * q + offset and
// its squared error, without a second pass over the values.
struct CodeSums {
  float n = kSub, sq = 0, sqq = 0, sx = 0, sqx = 0, sxx = 0;

  CodeSums(const float* x, const uint8_t* q) {
    for (int i = 0; i < kSub; ++i) {
      const float qi = q[i];
      sq += qi;
      sqq += qi * qi;
      sx += x[i];
      sqx += qi * x[i];
      sxx += x[i] * x[i];
    }
  }
  // sum (scale * q - min - x)^2, expanded.
  float error(SubFit f) const {
    return f.scale * f.scale * sqq + n * f.min * f.min + sxx - 2 * f.scale * f.min * sq -
           2 * f.scale * sqx + 2 * f.min * sx;
  }
  // Least-squares scale and offset = -min for the fixed codes. Falls back to
  // min 0 when the free fit wants a positive offset, which the format can
  // not store.
  SubFit fit() const {
    const float det = n * sqq - sq * sq;
    if (det > 0) {
      const float scale = (n * sqx - sq * sx) / det;
      const float offset = (sx - scale * sq) / n;
      if (scale >= 0 && offset <= 0) return {scale, -offset};
    }
    return {sqq > 0 ? std::max(0.0f, sqx / sqq) : 0.0f, 0.0f};
  }
};

SubFit fit_sub_block(const float* x, int max_code) {
  const float lo = std::min(0.0f, *std::min_element(x, x + kSub));
  const float hi = *std::max_element(x, x + kSub);
  if (hi <= lo) return {0.0f, -lo};
  SubFit best;
  float best_err = std::numeric_limits<float>::infinity();
  auto consider = [&](SubFit fit, const CodeSums& sums) {
    if (const float err = sums.error(fit); err < best_err) {
      best_err = err;
      best = fit;
    }
  };
  uint8_t q[kSub];
  for (int step = -kGridSteps; step <= kGridSteps; ++step) {
    // Codes from a stretched or shrunk range, then the best scale/min for them.
    const float inv_scale = (static_cast<float>(max_code) + kGridStep * static_cast<float>(step)) / (hi - lo);
    for (int i = 0; i < kSub; ++i) q[i] = static_cast<uint8_t>(clamp_code((x[i] - lo) * inv_scale, max_code));
    const CodeSums sums(x, q);
    consider(sums.fit(), sums);
    if (step == 0) consider({(hi - lo) / static_cast<float>(max_code), -lo}, sums);  // the plain min/max mapping
  }
  return best;
}

// Stores 6-bit scales and mins in the 12-byte layout that k4_scale_min reads.
void pack_scales(const uint8_t* sc, const uint8_t* mn, uint8_t* packed) {
  std::memset(packed, 0, 12);
  for (int j = 0; j < kSubBlocks; ++j) {
    if (j < 4) {
      packed[j] |= sc[j];
      packed[j + 4] |= mn[j];
    } else {
      packed[j + 4] = static_cast<uint8_t>((sc[j] & 0x0f) | ((mn[j] & 0x0f) << 4));
      packed[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      packed[j] |= static_cast<uint8_t>((mn[j] >> 4) << 6);
    }
  }
}

// The shared part of a Q4_K / Q5_K super-block: fp16 d and dmin at dst,
// the packed 6-bit scales and mins at dst + 4, and the codes (0..max_code)
// of the 256 values against the decoded scale and min of each sub-block.
void encode_scales_and_codes(const float* x, int max_code, uint8_t* dst, uint8_t* codes) {
  SubFit fits[kSubBlocks];
  float max_scale = 0, max_min = 0;
  for (int s = 0; s < kSubBlocks; ++s) {
    fits[s] = fit_sub_block(x + s * kSub, max_code);
    max_scale = std::max(max_scale, fits[s].scale);
    max_min = std::max(max_min, fits[s].min);
  }
  // Super-scales, rounded to fp16 first so the 6-bit factors are chosen
  // against the values the decoder will see.
  const uint16_t d_bits = fp32_to_fp16(max_scale / kMaxScale6);
  const uint16_t dmin_bits = fp32_to_fp16(max_min / kMaxScale6);
  const float d = fp16_to_fp32(d_bits), dmin = fp16_to_fp32(dmin_bits);
  uint8_t sc[kSubBlocks], mn[kSubBlocks];
  for (int s = 0; s < kSubBlocks; ++s) {
    sc[s] = static_cast<uint8_t>(d > 0 ? clamp_code(fits[s].scale / d, kMaxScale6) : 0);
    mn[s] = static_cast<uint8_t>(dmin > 0 ? clamp_code(fits[s].min / dmin, kMaxScale6) : 0);
  }
  std::memcpy(dst, &d_bits, 2);
  std::memcpy(dst + 2, &dmin_bits, 2);
  pack_scales(sc, mn, dst + 4);
  for (int s = 0; s < kSubBlocks; ++s) {
    const float scale = d * static_cast<float>(sc[s]);
    const float min = dmin * static_cast<float>(mn[s]);
    for (int i = 0; i < kSub; ++i) {
      const float v = x[s * kSub + i];
      codes[s * kSub + i] = static_cast<uint8_t>(scale > 0 ? clamp_code((v + min) / scale, max_code) : 0);
    }
  }
}

// Sub-blocks 2p and 2p+1 share 32 bytes of qs: low nibbles, then high
// nibbles (the low 4 bits of each code).
void pack_nibbles(const uint8_t* codes, uint8_t* qs) {
  for (int p = 0; p < kSubBlocks / 2; ++p) {
    for (int l = 0; l < kSub; ++l) {
      qs[p * kSub + l] =
          static_cast<uint8_t>((codes[2 * p * kSub + l] & 0x0f) | ((codes[(2 * p + 1) * kSub + l] & 0x0f) << 4));
    }
  }
}

// block_q4_K (144 bytes): d, dmin, scales[12], qs[128].
void quantize_q4_k_block(const float* x, uint8_t* dst) {
  uint8_t codes[kQK];
  encode_scales_and_codes(x, 15, dst, codes);
  pack_nibbles(codes, dst + 16);
}

// block_q5_K (176 bytes): d, dmin, scales[12], qh[32], qs[128]; the fifth bit
// of element l of sub-block s is bit s of qh[l].
void quantize_q5_k_block(const float* x, uint8_t* dst) {
  uint8_t codes[kQK];
  encode_scales_and_codes(x, 31, dst, codes);
  uint8_t* qh = dst + 16;
  std::memset(qh, 0, kSub);
  for (int s = 0; s < kSubBlocks; ++s)
    for (int l = 0; l < kSub; ++l) qh[l] |= static_cast<uint8_t>(((codes[s * kSub + l] >> 4) & 1) << s);
  pack_nibbles(codes, dst + 48);
}

}  // namespace

void quantize_q4_k(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b) quantize_q4_k_block(src + b * kQK, dst + b * 144);
}

void quantize_q5_k(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b) quantize_q5_k_block(src + b * kQK, dst + b * 176);
}

}  // namespace halo::quant_detail
