// Quantizers: quantize -> dequantize error bounds per type, agreement with the
// reference's bytes where its algorithm is the simple one, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "engine/quant/dequant.h"
#include "engine/quant/quantize.h"
#include "tests/fixtures.h"

namespace halo {
namespace {

std::vector<float> normal_values(size_t n, float stddev, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<float> round_trip(GgmlType type, const std::vector<float>& x) {
  std::vector<uint8_t> q(*row_bytes(type, x.size()));
  EXPECT_EQ(quantize_row(type, x.data(), q.data(), static_cast<int64_t>(x.size())), q.size());
  std::vector<float> y(x.size());
  dequantize_row(type, q.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

// Root mean square error relative to the data's own root mean square.
double relative_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    ref += double(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

TEST(Quantize, F32IsExactAndF16Bf16RoundToTheirPrecision) {
  const auto x = normal_values(4096, 1.0f, 1);
  EXPECT_EQ(round_trip(GgmlType::F32, x), x);
  const auto h = round_trip(GgmlType::F16, x);
  const auto b = round_trip(GgmlType::BF16, x);
  for (size_t i = 0; i < x.size(); ++i) {
    // Normal range: half an ulp of 11 (fp16) or 8 (bf16) significant bits;
    // the fp16 subnormal range adds an absolute 2^-25.
    ASSERT_LE(std::fabs(h[i] - x[i]), std::ldexp(std::fabs(x[i]), -11) + std::ldexp(1.0f, -25));
    ASSERT_LE(std::fabs(b[i] - x[i]), std::ldexp(std::fabs(x[i]), -8));
  }
}

TEST(Quantize, Q8_0ErrorStaysWithinHalfAStepPerBlock) {
  const auto x = normal_values(32 * 256, 0.02f, 2);
  const auto y = round_trip(GgmlType::Q8_0, x);
  for (size_t b = 0; b < x.size(); b += 32) {
    float amax = 0;
    for (size_t j = b; j < b + 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    // Half a step, plus the fp16 rounding of the scale (2^-11 relative) seen
    // by codes up to 127.
    const float step = amax / 127;
    for (size_t j = b; j < b + 32; ++j) ASSERT_LE(std::fabs(y[j] - x[j]), 0.57f * step) << j;
  }
  EXPECT_LT(relative_rmse(x, y), 0.01);
}

TEST(Quantize, Q8_0RoundsHalfWayCasesAwayFromZeroLikeRoundf) {
  // max |x| = 127 makes the scale exactly 1, so codes are round(x).
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 0.49999997f;  // just below one half: 0 (adding 0.5 in float would give 1)
  x[4] = -126.5f;
  x[5] = 3.4999998f;
  std::vector<uint8_t> q(34);
  quantize_row(GgmlType::Q8_0, x.data(), q.data(), 32);
  const auto* codes = reinterpret_cast<const int8_t*>(q.data() + 2);
  EXPECT_EQ(codes[1], 3);
  EXPECT_EQ(codes[2], -3);
  EXPECT_EQ(codes[3], 0);
  EXPECT_EQ(codes[4], -127);
  EXPECT_EQ(codes[5], 3);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(codes[j], static_cast<int8_t>(std::round(x[j]))) << j;
}

TEST(Quantize, Q4_0ErrorStaysWithinOneStepPerBlock) {
  const auto x = normal_values(32 * 256, 0.02f, 3);
  const auto y = round_trip(GgmlType::Q4_0, x);
  for (size_t b = 0; b < x.size(); b += 32) {
    float amax = 0;
    for (size_t j = b; j < b + 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    // The extreme maps to -8 steps; the opposite end can only reach +7.
    const float step = amax / 8;
    for (size_t j = b; j < b + 32; ++j) ASSERT_LE(std::fabs(y[j] - x[j]), 1.01f * step) << j;
  }
  EXPECT_LT(relative_rmse(x, y), 0.15);
}

TEST(Quantize, Q4_KRoundTripsWithSmallErrorAndBeatsQ4_0) {
  const auto x = normal_values(256 * 64, 0.02f, 4);
  const double q4k = relative_rmse(x, round_trip(GgmlType::Q4_K, x));
  const double q40 = relative_rmse(x, round_trip(GgmlType::Q4_0, x));
  EXPECT_LT(q4k, 0.11);
  EXPECT_LT(q4k, q40);
}

TEST(Quantize, Q4_KHandlesOneSidedAndZeroSubBlocks) {
  // An all-positive, an all-negative and an all-zero sub-block among normal ones.
  std::vector<float> x = normal_values(256, 1.0f, 5);
  for (int i = 32; i < 64; ++i) x[i] = 3.0f + std::fabs(x[i]);
  for (int i = 64; i < 96; ++i) x[i] = -3.0f - std::fabs(x[i]);
  for (int i = 96; i < 128; ++i) x[i] = 0.0f;
  const auto y = round_trip(GgmlType::Q4_K, x);
  for (int i = 96; i < 128; ++i) EXPECT_NEAR(y[i], 0.0f, 1e-3f);
  for (int s = 0; s < 8; ++s) {
    float lo = 0, hi = 0, err = 0;
    for (int i = s * 32; i < s * 32 + 32; ++i) {
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
      err = std::max(err, std::fabs(y[i] - x[i]));
    }
    // One code step of the sub-block's range (which includes 0, since the
    // format's offset can only be subtracted) covers rounding of the codes
    // and of the 6-bit scale and min.
    EXPECT_LE(err, (hi - lo) / 15) << "sub-block " << s;
  }
}

TEST(Quantize, Q4_KKeepsTheLargestSubBlockAccurateWhenMagnitudesDiffer) {
  // One sub-block 1000x larger sets the super-scales: it stays accurate, and
  // the small ones are at worst flattened, never amplified.
  std::vector<float> x = normal_values(256, 1.0f, 6);
  for (int i = 0; i < 32; ++i) x[i] *= 1000.0f;
  const auto y = round_trip(GgmlType::Q4_K, x);
  float lo = 0, hi = 0;
  for (int i = 0; i < 32; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  for (int i = 0; i < 32; ++i) EXPECT_LE(std::fabs(y[i] - x[i]), (hi - lo) / 15) << i;
  for (int i = 32; i < 256; ++i) EXPECT_LE(std::fabs(y[i] - x[i]), std::fabs(x[i]) + 2.0f * (hi - lo) / 15 / 63) << i;
}

TEST(Quantize, Q5_KRoundTripsWithSmallErrorAndBeatsQ4_K) {
  const auto x = normal_values(256 * 64, 0.02f, 7);
  const double q5k = relative_rmse(x, round_trip(GgmlType::Q5_K, x));
  EXPECT_LT(q5k, 0.04);  // the reference's quantizer: 0.036 on such data
  EXPECT_LT(q5k, 0.6 * relative_rmse(x, round_trip(GgmlType::Q4_K, x)));
}

TEST(Quantize, Q6_KErrorStaysWithinAStepOfEachSubBlock) {
  const auto x = normal_values(256 * 64, 0.02f, 8);
  const auto y = round_trip(GgmlType::Q6_K, x);
  for (size_t s = 0; s < x.size(); s += 16) {
    float amax = 0;
    for (size_t j = s; j < s + 16; ++j) amax = std::max(amax, std::fabs(x[j]));
    // The extreme maps to about -32 steps; scale rounding (int8 under an fp16
    // super-scale) moves every step by well under 1/64.
    for (size_t j = s; j < s + 16; ++j) ASSERT_LE(std::fabs(y[j] - x[j]), 1.05f * amax / 31) << j;
  }
  EXPECT_LT(relative_rmse(x, y), 0.018);  // the reference's quantizer: 0.0178
}

TEST(Quantize, Iq4TypesBeatQ4_0AtTheSameBits) {
  const auto x = normal_values(256 * 64, 0.02f, 9);
  const double q40 = relative_rmse(x, round_trip(GgmlType::Q4_0, x));
  const double nl = relative_rmse(x, round_trip(GgmlType::IQ4_NL, x));
  const double xs = relative_rmse(x, round_trip(GgmlType::IQ4_XS, x));
  EXPECT_LT(nl, 0.9 * q40);
  EXPECT_LT(xs, 0.9 * q40);
  EXPECT_LT(xs, 0.078);  // the reference's quantizer: 0.077
}

TEST(Quantize, Mxfp4PicksThePowerOfTwoScaleAndNearestValues) {
  // Values that are FP4 values times 2^-3 come back exactly.
  std::vector<float> x(32);
  const float fp4[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (int i = 0; i < 32; ++i) x[i] = (i % 2 ? -1.0f : 1.0f) * fp4[i % 8] * 0.125f;
  EXPECT_EQ(round_trip(GgmlType::MXFP4, x), x);
  std::vector<uint8_t> q(17);
  quantize_row(GgmlType::MXFP4, x.data(), q.data(), 32);
  EXPECT_EQ(q[0], 127 - 3);
  const auto n = normal_values(32 * 256, 0.02f, 10);
  EXPECT_LT(relative_rmse(n, round_trip(GgmlType::MXFP4, n)), 0.115);  // the reference's quantizer: 0.114
}

TEST(Quantize, AllZeroBlocksStayZero) {
  const std::vector<float> zeros(256, 0.0f);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,
                     GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::MXFP4}) {
    EXPECT_EQ(round_trip(t, zeros), zeros) << type_info(t).name;
  }
}

// Re-quantizing the dequantized values of the fixture's Q8_0 and Q4_0
// tensors (the reference's round-to-nearest quantizers) with the same
// algorithm, and of its IQ4 and MXFP4 tensors (search-based), where the
// best fit of each block is its own scale, must reproduce the bytes exactly.
class RequantizeFixture : public ::testing::TestWithParam<GgmlType> {};

TEST_P(RequantizeFixture, ReproducesTheReferenceBytes) {
  const auto file = gguf::File::open(test::fixture("quant-fixture.gguf"), gguf::Contents::All);
  const std::string name(type_info(GetParam()).name);
  const gguf::TensorInfo* q = file->tensor(name + ".q");
  const gguf::TensorInfo* ref = file->tensor(name + ".ref");
  ASSERT_TRUE(q && ref);
  std::vector<float> values(ref->n_elements);
  std::memcpy(values.data(), ref->data, ref->n_bytes);
  std::vector<uint8_t> bytes(q->n_bytes);
  quantize_row(GetParam(), values.data(), bytes.data(), static_cast<int64_t>(values.size()));
  EXPECT_EQ(std::memcmp(bytes.data(), q->data, q->n_bytes), 0);
}

INSTANTIATE_TEST_SUITE_P(SimpleTypes, RequantizeFixture,
                         ::testing::Values(GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::IQ4_NL, GgmlType::IQ4_XS,
                                           GgmlType::MXFP4),
                         [](const auto& p) { return std::string(type_info(p.param).name); });

// The fixture's K-quant tensors were made by the reference's search-based
// quantizers. Their dequantized values are exactly representable in the
// type, so quantizing them again must come back close: a small fraction of
// the error quantizing normal data leaves (relative RMSE 1.7-7%); Q6_K's
// symmetric fit finds every value exactly.
class RequantizeFixtureClosely : public ::testing::TestWithParam<std::pair<GgmlType, double>> {};

TEST_P(RequantizeFixtureClosely, ComesBackWithinTheBound) {
  const auto file = gguf::File::open(test::fixture("quant-fixture.gguf"), gguf::Contents::All);
  const auto [type, bound] = GetParam();
  const gguf::TensorInfo* ref = file->tensor(std::string(type_info(type).name) + ".ref");
  ASSERT_NE(ref, nullptr);
  std::vector<float> values(ref->n_elements);
  std::memcpy(values.data(), ref->data, ref->n_bytes);
  EXPECT_LT(relative_rmse(values, round_trip(type, values)), bound);
}

INSTANTIATE_TEST_SUITE_P(SearchedTypes, RequantizeFixtureClosely,
                         ::testing::Values(std::pair{GgmlType::Q4_K, 0.006}, std::pair{GgmlType::Q5_K, 0.009},
                                           std::pair{GgmlType::Q6_K, 1e-7}),
                         [](const auto& p) { return std::string(type_info(p.param.first).name); });

TEST(Quantize, RejectsUnsupportedTypesPartialBlocksAndNonFiniteValues) {
  std::vector<float> x(256, 1.0f);
  std::vector<uint8_t> out(1024);
  EXPECT_FALSE(can_quantize(GgmlType::Q2_K));
  EXPECT_TRUE(can_quantize(GgmlType::Q6_K));
  auto expect_invalid = [&](GgmlType t, int64_t n, const char* needle) {
    try {
      quantize_row(t, x.data(), out.data(), n);
      ADD_FAILURE() << "expected an error for " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_invalid(GgmlType::Q2_K, 256, "q2_K");
  expect_invalid(static_cast<GgmlType>(99), 256, "99");
  expect_invalid(GgmlType::Q8_0, 33, "block size");
  expect_invalid(GgmlType::Q4_K, 32, "block size");
  x[17] = std::numeric_limits<float>::quiet_NaN();
  expect_invalid(GgmlType::Q8_0, 32, "non-finite");
  x[17] = std::numeric_limits<float>::infinity();
  expect_invalid(GgmlType::Q4_K, 256, "non-finite");
}

}  // namespace
}  // namespace halo
