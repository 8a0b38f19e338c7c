// CPU kernels against a naive reference: dequantize_row, then a double dot.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/backends/cpu/kernels.h"
#include "engine/error.h"
#include "engine/backends/cpu/matmul.h"
#include "engine/gguf/gguf.h"
#include "engine/quant/dequant.h"
#include "engine/quant/quantize.h"
#include "tests/fixtures.h"

namespace halo::cpu {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// A weight tensor (rows × cols) owning its quantized bytes.
struct OwnedTensor {
  std::vector<uint8_t> bytes;
  Tensor t;
};

OwnedTensor quantized_tensor(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  OwnedTensor o;
  const uint64_t row_size = *row_bytes(type, cols);
  o.bytes.resize(row_size * rows);
  auto values = random_floats(rows * cols, seed);
  for (int64_t r = 0; r < rows; ++r) quantize_row(type, values.data() + r * cols, o.bytes.data() + r * row_size, cols);
  o.t.name = "random";
  o.t.type = type;
  o.t.ne[0] = cols;
  o.t.ne[1] = rows;
  o.t.n_bytes = o.bytes.size();
  o.t.host = o.bytes.data();
  return o;
}

// y_ref (n × rows) = x · dequantize(W)ᵀ in double.
std::vector<double> reference_product(const Tensor& w, const std::vector<float>& x, int64_t n) {
  const int64_t cols = w.ne[0], rows = w.ne[1];
  const uint64_t row_size = *row_bytes(w.type, cols);
  std::vector<float> row(cols);
  std::vector<double> y(n * rows);
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(w.type, w.host + r * row_size, row.data(), cols);
    for (int64_t t = 0; t < n; ++t) {
      double s = 0;
      for (int64_t k = 0; k < cols; ++k) s += double(row[k]) * x[t * cols + k];
      y[t * rows + r] = s;
    }
  }
  return y;
}

using MatmulFn = void (*)(const Tensor&, const float*, int64_t, float*, ThreadPool&);

void expect_product_matches(const Tensor& w, int64_t n, MatmulFn fn, ThreadPool& pool, const char* what) {
  const int64_t cols = w.ne[0], rows = w.ne[1];
  auto x = random_floats(n * cols, 99 + n);
  auto ref = reference_product(w, x, n);
  std::vector<float> y(n * rows, NAN);
  fn(w, x.data(), n, y.data(), pool);
  // f32 accumulation over `cols` terms: error grows like sqrt(cols) ulps of the magnitudes.
  const double tol = 2e-5 * std::sqrt(double(cols)) * 4;
  for (int64_t i = 0; i < n * rows; ++i)
    ASSERT_NEAR(y[i], ref[i], tol * (1 + std::fabs(ref[i])))
        << what << " " << type_info(w.type).name << " n=" << n << " at token " << i / rows << " row " << i % rows;
}

struct Shape {
  GgmlType type;
  int64_t rows, cols;
};

class RandomWeights : public ::testing::TestWithParam<Shape> {};

TEST_P(RandomWeights, RowsAndTiledPathsMatchReference) {
  const Shape s = GetParam();
  OwnedTensor w = quantized_tensor(s.type, s.rows, s.cols, 7);
  for (unsigned threads : {1u, 2u, 3u}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 3, 5, 12, 13, 29}) {
      expect_product_matches(w.t, n, matmul_rows, pool, "rows");
      expect_product_matches(w.t, n, matmul_tiled, pool, "tiled");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(OddSizes, RandomWeights,
                         ::testing::Values(Shape{GgmlType::F32, 37, 48}, Shape{GgmlType::F16, 33, 80},
                                           Shape{GgmlType::BF16, 31, 40}, Shape{GgmlType::Q8_0, 37, 96},
                                           Shape{GgmlType::Q4_0, 65, 160}, Shape{GgmlType::Q4_K, 35, 768},
                                           // deeper than one decoded slice (K > 4096)
                                           Shape{GgmlType::Q8_0, 33, 4160}, Shape{GgmlType::Q4_K, 17, 4352}));

// Every readable type, with real blocks quantized by the reference
// implementation (the quant fixture: 16 rows × 512 per type).
class FixtureWeights : public ::testing::TestWithParam<const char*> {};

TEST_P(FixtureWeights, DecoderAndProductsMatchReference) {
  auto file = gguf::File::open(test::fixture("quant-fixture.gguf"), gguf::Contents::All);
  const std::string name = std::string(GetParam()) + ".q";
  const gguf::TensorInfo* info = file->tensor(name);
  ASSERT_NE(info, nullptr) << name;
  Tensor w;
  w.name = name;
  w.type = info->type;
  w.ne[0] = info->ne[0];
  w.ne[1] = 13;  // an odd number of rows
  w.host = info->data;

  // The decoder (SIMD or reference) gives the reference values.
  const WeightKernels k = weight_kernels(w.type);
  std::vector<float> mine(w.ne[0]), ref(w.ne[0]);
  k.decode(w.host, mine.data(), w.ne[0]);
  dequantize_row(w.type, w.host, ref.data(), w.ne[0]);
  for (size_t i = 0; i < mine.size(); ++i) ASSERT_NEAR(mine[i], ref[i], 1e-6f * (1 + std::fabs(ref[i]))) << i;

  ThreadPool pool(2);
  for (int64_t n : {1, 4, 13}) {
    expect_product_matches(w, n, matmul_rows, pool, "rows");
    expect_product_matches(w, n, matmul_tiled, pool, "tiled");
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, FixtureWeights,
                         ::testing::Values("f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K",
                                           "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs", "mxfp4"));

TEST(WeightKernels, UnreadableTypeIsAClearError) {
  try {
    weight_kernels(GgmlType::IQ2_XXS);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadModel);
    EXPECT_NE(std::string(e.what()).find("iq2_xxs"), std::string::npos) << e.what();
  }
}

TEST(ThreadPool, EveryThreadRunsEachJobOnce) {
  ThreadPool pool(3);
  std::vector<int> hits(3, 0);
  for (int round = 0; round < 1000; ++round) pool.run([&](unsigned i, unsigned n) { hits[i] += n == 3; });
  EXPECT_EQ(hits, std::vector<int>({1000, 1000, 1000}));
}

}  // namespace
}  // namespace halo::cpu
