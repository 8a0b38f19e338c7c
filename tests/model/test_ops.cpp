// The CPU backend's element-wise operations against double-precision formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/backends/cpu/attention.h"
#include "engine/backends/cpu/ops.h"

namespace halo::cpu {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(CpuOps, SoftmaxMatchesDoubleFormulaIncludingTinyAndMaskedValues) {
  for (int64_t n : {1, 7, 16, 37, 640}) {
    auto x = random_floats(n, 3, 8.0f);
    if (n > 5) x[3] = -INFINITY, x[4] = -150.0f;  // masked and underflowing entries
    double max = -INFINITY, sum = 0;
    for (float v : x) max = std::max<double>(max, v);
    std::vector<double> ref(n);
    for (int64_t i = 0; i < n; ++i) sum += ref[i] = std::exp(double(x[i]) - max);
    softmax(x.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(x[i], ref[i] / sum, 2e-7 + 1e-6 * ref[i] / sum) << n << " " << i;
  }
}

TEST(CpuOps, SwigluMatchesDoubleFormula) {
  auto gate = random_floats(101, 4, 6.0f), up = random_floats(101, 5, 1.0f);
  gate[0] = -120.0f, gate[1] = 95.0f;  // exp under- and overflow
  std::vector<double> ref(gate.size());
  for (size_t i = 0; i < gate.size(); ++i) ref[i] = gate[i] / (1.0 + std::exp(-double(gate[i]))) * up[i];
  swiglu(gate.data(), up.data(), static_cast<int64_t>(gate.size()));
  for (size_t i = 0; i < gate.size(); ++i) ASSERT_NEAR(gate[i], ref[i], 1e-6 * (1 + std::fabs(ref[i]))) << i;
}

TEST(CpuOps, RmsNormScalesByRootMeanSquare) {
  auto x = random_floats(96, 6, 2.0f), w = random_floats(96, 7, 1.0f);
  std::vector<float> out(96);
  rms_norm(x.data(), w.data(), 96, 1e-6f, out.data());
  double ms = 0;
  for (float v : x) ms += double(v) * v;
  const double scale = 1.0 / std::sqrt(ms / 96 + 1e-6);
  for (int i = 0; i < 96; ++i) ASSERT_NEAR(out[i], x[i] * scale * w[i], 1e-5 * (1 + std::fabs(out[i])));
}

// RoPE on 2 heads of 8 with rope_dim 6 (the last 2 values stay put).
TEST(CpuOps, RopeRotatesTheRightPairsInBothLayouts) {
  const int64_t pos = 5;
  const float base = 10000.0f;
  RopeAngles angles;
  rope_angles(pos, 6, base, nullptr, angles);
  for (RopeLayout layout : {RopeLayout::Normal, RopeLayout::NeoX}) {
    auto v = random_floats(16, 8, 1.0f);
    const auto orig = v;
    rope(v.data(), 2, 8, 6, layout, angles);
    for (int h = 0; h < 2; ++h) {
      const float* o = orig.data() + h * 8;
      const float* r = v.data() + h * 8;
      for (int i = 0; i < 3; ++i) {
        const double theta = pos * std::pow(double(base), -2.0 * i / 6);
        const int a = layout == RopeLayout::Normal ? 2 * i : i;
        const int b = layout == RopeLayout::Normal ? 2 * i + 1 : i + 3;
        EXPECT_NEAR(r[a], o[a] * std::cos(theta) - o[b] * std::sin(theta), 1e-5);
        EXPECT_NEAR(r[b], o[a] * std::sin(theta) + o[b] * std::cos(theta), 1e-5);
      }
      EXPECT_EQ(r[6], o[6]);
      EXPECT_EQ(r[7], o[7]);
    }
  }
}

TEST(CpuOps, RopeFrequencyFactorsDivideTheAngles) {
  const float factors[3] = {1.0f, 4.0f, 32.0f};
  RopeAngles plain, scaled;
  rope_angles(7, 6, 500000.0f, nullptr, plain);
  rope_angles(7, 6, 500000.0f, factors, scaled);
  for (int i = 0; i < 3; ++i) {
    const double theta = 7 * std::pow(500000.0, -2.0 * i / 6) / factors[i];
    EXPECT_NEAR(scaled.cos[i], std::cos(theta), 1e-6);
    EXPECT_NEAR(scaled.sin[i], std::sin(theta), 1e-6);
  }
  EXPECT_EQ(plain.cos[0], scaled.cos[0]);
  EXPECT_NE(plain.sin[2], scaled.sin[2]);
}

// Attention for 19 new tokens after 4 cached ones (key counts on both sides
// of a 16-wide vector), 4 query heads over 2 KV heads.
TEST(CpuOps, AttentionIsCausalGroupedSoftmaxOverTheCache) {
  const AttentionShape s{4, 2, 16};
  const int64_t n_past = 4, n = 19, n_ctx = 24, kv_row = s.n_head_kv * s.head_dim, q_row = s.n_head * s.head_dim;
  auto q = random_floats(n * q_row, 9, 1.0f), k = random_floats(n_ctx * kv_row, 10, 1.0f),
       v = random_floats(n_ctx * kv_row, 11, 1.0f);
  // The backend keeps keys transposed: k_t[d][pos].
  std::vector<float> k_t(kv_row * n_ctx);
  for (int64_t pos = 0; pos < n_ctx; ++pos)
    for (int64_t d = 0; d < kv_row; ++d) k_t[d * n_ctx + pos] = k[pos * kv_row + d];
  std::vector<float> out(n * q_row);
  ThreadPool pool(2);
  attention(q.data(), k_t.data(), v.data(), n_ctx, n, n_past, s, out.data(), pool);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h = 0; h < s.n_head; ++h) {
      const int64_t kv = h / 2, keys = n_past + t + 1;
      std::vector<double> p(keys);
      double max = -INFINITY, sum = 0;
      for (int64_t j = 0; j < keys; ++j) {
        double d = 0;
        for (int64_t i = 0; i < s.head_dim; ++i) d += double(q[t * q_row + h * 16 + i]) * k[j * kv_row + kv * 16 + i];
        p[j] = d / 4.0;  // 1/sqrt(16)
        max = std::max(max, p[j]);
      }
      for (double& x : p) sum += x = std::exp(x - max);
      for (int64_t i = 0; i < s.head_dim; ++i) {
        double o = 0;
        for (int64_t j = 0; j < keys; ++j) o += p[j] / sum * v[j * kv_row + kv * 16 + i];
        ASSERT_NEAR(out[t * q_row + h * 16 + i], o, 1e-5) << t << " " << h << " " << i;
      }
    }
}

}  // namespace
}  // namespace halo::cpu
