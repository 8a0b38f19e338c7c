// Quantized-weight kernels against the CPU reference: embedding lookup
// (get_rows) and matrix products (matvec for up to 8 tokens, tiled matmul
// beyond) for every type, on the reference's own quantized tensors from
// quant-fixture.gguf, at full and odd sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/quant/dequant.h"
#include "tests/fixtures.h"
#include "tests/vulkan/vk_test_device.h"

namespace halo {
namespace {

using test::gpu;

// The SIMT kernels compute in f32; beyond kMatvecMaxTokens a device with
// cooperative matrices runs the f16-input GEMM (test_vk_coopmat.cpp says why 1e-5).
// One-token products of Q4_0/Q8_0 weights also run in 8-bit integers on an
// input quantized per 32 values (quantize_input, or the epilogue of the
// product before): 2e-4 covers that (measured 3e-5 for plain products,
// 3.5e-4 for the gate/up pair's silu(g) * u, hence its own bound).
bool quantized_input_mode = false;  // while the bodies run on 8-bit inputs

bool int8_decode(GgmlType type, uint32_t ntok) {
  return ntok == 1 && quantized_input_mode && (type == GgmlType::Q4_0 || type == GgmlType::Q8_0);
}

// The product input as the kernels take it in the current mode: x itself,
// or (quantized_input_mode) quantize_input's output in `holder`, recorded
// into cmd with a barrier after it.
std::pair<uint64_t, vk::InputFusion> product_input(VkCommandBuffer cmd, const vk::Buffer& x, uint32_t cols,
                                                   vk::InputFusion fuse, vk::Buffer& holder) {
  if (!quantized_input_mode) return {x.address(), fuse};
  holder = test::upload(nullptr, vk::Ops::quantized_input_bytes(cols));
  gpu()->ops->quantize_input(cmd, x.address(), fuse.norm, fuse.eps, cols, holder.address());
  gpu()->stream->compute_barrier();
  vk::InputFusion q{0, fuse.norm, fuse.eps};  // the norm's weights are in the input; its row scale is not
  q.quantized = true;
  return {holder.address(), q};
}

double nmse_bound(GgmlType type, uint32_t ntok, double f32_bound) {
  if (int8_decode(type, ntok)) return 2e-4;
  bool f16 = ntok > vk::Ops::kMatvecMaxTokens && gpu()->ctx->features().coopmat_gemm;
  return f16 ? 1e-5 : f32_bound;
}

// Runs a test body with f32 inputs, then (where the device has integer dot
// products and the type 8-bit products) on 8-bit inputs.
template <typename Body>
void with_and_without_int8(GgmlType type, Body body) {
  body();
  if (gpu()->ctx->features().integer_dot_product && vk::Ops::reads_quantized_input(type)) {
    SCOPED_TRACE("8-bit decode on a quantized input");
    quantized_input_mode = true;
    body();
    quantized_input_mode = false;
  }
}

// Fixture tensor "<name>.q": 16 rows x 512 columns of the type.
struct QuantFixture {
  std::unique_ptr<gguf::File> file;
  const gguf::TensorInfo* q = nullptr;
  const gguf::TensorInfo* ref = nullptr;
};

QuantFixture load_fixture(const std::string& name) {
  QuantFixture f;
  f.file = gguf::File::open(test::fixture("quant-fixture.gguf"), gguf::Contents::All);
  f.q = f.file->tensor(name + ".q");
  f.ref = f.file->tensor(name + ".ref");
  return f;
}

const char* const kTypes[] = {"f16",  "bf16", "q4_0", "q4_1", "q5_0", "q5_1",   "q8_0",   "q2_K",
                              "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs", "mxfp4"};

// The first `cols` columns and `rows` rows of a fixture tensor, as bytes.
// Rows longer than the fixture's repeat it (whole blocks), so kernels see
// decode-sized rows of several passes per lane.
std::vector<uint8_t> slice_rows(const gguf::TensorInfo& t, uint32_t rows, uint32_t cols) {
  uint64_t full = *row_bytes(t.type, t.ne[0]), part = *row_bytes(t.type, cols);
  std::vector<uint8_t> out(rows * part);
  for (uint32_t r = 0; r < rows; ++r)
    for (uint64_t done = 0; done < part; done += full)
      std::memcpy(out.data() + r * part + done, t.data + r * full, std::min(full, part - done));
  return out;
}

class QuantKernels : public ::testing::TestWithParam<const char*> {};

TEST_P(QuantKernels, GetRowsMatchesReferenceDequantization) {
  HALO_REQUIRE_VULKAN(gpu());
  QuantFixture f = load_fixture(GetParam());
  ASSERT_NE(f.q, nullptr);
  const uint32_t cols = static_cast<uint32_t>(f.q->ne[0]);
  vk::WeightView w{f.q->type, 0, cols, static_cast<uint32_t>(f.q->ne[1]), static_cast<uint32_t>(*row_bytes(f.q->type, cols))};
  vk::Buffer wb = test::upload(f.q->data, f.q->n_bytes);
  w.address = wb.address();
  const std::vector<int32_t> ids = {3, 0, 15, 7, 7};
  vk::Buffer idb = test::upload(ids), out = test::upload(nullptr, ids.size() * cols * 4);
  gpu()->ops->get_rows(gpu()->stream->begin(), w, idb.address(), out.address(), static_cast<uint32_t>(ids.size()));
  gpu()->stream->submit_and_wait();
  const float* ref = reinterpret_cast<const float*>(f.ref->data);
  const float* got = static_cast<const float*>(out.host());
  int bad = 0;
  for (size_t t = 0; t < ids.size(); ++t)
    for (uint32_t k = 0; k < cols; ++k) {
      float r = ref[ids[t] * cols + k], g = got[t * cols + k];
      if (std::fabs(g - r) > 1e-6f * std::fabs(r) + 1e-30f && ++bad <= 40)
        ADD_FAILURE() << "token " << t << " element " << k << ": " << g << " vs " << r;
    }
  EXPECT_EQ(bad, 0);
}

// y = x W^T (+ bias) (+ y) for ntok tokens on the first rows x cols of the fixture.
void check_matmul(const char* type, uint32_t rows, uint32_t cols, uint32_t ntok, bool bias, bool accumulate) {
  SCOPED_TRACE(std::string(type) + " rows " + std::to_string(rows) + " cols " + std::to_string(cols) + " tokens " +
               std::to_string(ntok) + (bias ? " +bias" : "") + (accumulate ? " +accumulate" : ""));
  QuantFixture f = load_fixture(type);
  ASSERT_NE(f.q, nullptr);
  std::vector<uint8_t> wbytes = slice_rows(*f.q, rows, cols);
  const uint32_t rb = static_cast<uint32_t>(*row_bytes(f.q->type, cols));
  std::vector<float> wf(uint64_t{rows} * cols);
  for (uint32_t r = 0; r < rows; ++r) dequantize_row(f.q->type, wbytes.data() + r * rb, wf.data() + r * cols, cols);

  std::mt19937 rng(rows * 7919 + cols * 31 + ntok);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(uint64_t{ntok} * cols), b(rows), y0(uint64_t{ntok} * rows);
  for (float& v : x) v = nd(rng);
  for (float& v : b) v = nd(rng);
  for (float& v : y0) v = nd(rng);

  std::vector<double> ref(uint64_t{ntok} * rows);
  for (uint32_t t = 0; t < ntok; ++t)
    for (uint32_t r = 0; r < rows; ++r) {
      double s = 0;
      for (uint32_t k = 0; k < cols; ++k) s += double(wf[r * cols + k]) * x[t * cols + k];
      if (bias) s += b[r];
      if (accumulate) s += y0[t * rows + r];
      ref[t * rows + r] = s;
    }

  vk::Buffer wb = test::upload(wbytes), xb = test::upload(x), bb = test::upload(b), yb = test::upload(y0);
  vk::WeightView w{f.q->type, wb.address(), cols, rows, rb};
  VkCommandBuffer cmd = gpu()->stream->begin();
  vk::Buffer xq;
  const auto [in, fuse] = ntok == 1 ? product_input(cmd, xb, cols, {}, xq) : std::pair{xb.address(), vk::InputFusion{}};
  gpu()->ops->matmul(cmd, w, in, yb.address(), ntok, bias ? bb.address() : 0, accumulate, fuse);
  gpu()->stream->submit_and_wait();
  const double e = test::nmse(test::read_floats(yb, ref.size()), ref);
  EXPECT_LT(e, nmse_bound(f.q->type, ntok, 1e-9)) << "normalised MSE";
}

TEST_P(QuantKernels, MatrixProductsMatchReferenceAtFullAndOddSizes) {
  HALO_REQUIRE_VULKAN(gpu());
  const char* type = GetParam();
  QuantFixture f = load_fixture(type);
  ASSERT_NE(f.q, nullptr);
  const uint32_t block = type_info(f.q->type).block_elems;
  // An odd column count: one block short of the row (or 508 for float types).
  const uint32_t odd_cols = block == 1 ? 508 : 512 - block;
  for (uint32_t ntok : {1u, 3u, 8u, 9u, 67u}) check_matmul(type, 16, 512, ntok, false, false);
  check_matmul(type, 13, odd_cols, 70, true, true);
  check_matmul(type, 1, odd_cols, 5, false, true);
  // Decode-sized rows (4576 columns for 32-element blocks): several unrolled
  // passes per lane, the last one partly past the row's end.
  const uint32_t long_cols = 9 * 512 - (block == 1 ? 4 : block);
  check_matmul(type, 9, long_cols, 3, true, false);
  with_and_without_int8(f.q->type, [&] {
    check_matmul(type, 16, 512, 1, false, false);
    check_matmul(type, 13, odd_cols, 1, true, true);
    check_matmul(type, 9, long_cols, 1, false, false);
  });
}

// y = silu(G x') * (U x') with x' = x / rms(x) * norm_w (or x), one token.
// G is the fixture slice, U the same rows in reverse order.
void check_swiglu(const char* type, uint32_t rows, uint32_t cols, bool norm) {
  SCOPED_TRACE(std::string(type) + " gate/up rows " + std::to_string(rows) + " cols " + std::to_string(cols) +
               (norm ? " +norm" : ""));
  QuantFixture f = load_fixture(type);
  ASSERT_NE(f.q, nullptr);
  const uint32_t rb = static_cast<uint32_t>(*row_bytes(f.q->type, cols));
  std::vector<uint8_t> gbytes = slice_rows(*f.q, rows, cols), ubytes(gbytes.size());
  for (uint32_t r = 0; r < rows; ++r)
    std::memcpy(ubytes.data() + r * rb, gbytes.data() + (rows - 1 - r) * rb, rb);
  std::mt19937 rng(rows * 13 + cols);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(cols), nw(cols);
  for (float& v : x) v = 3 * nd(rng);  // rms(x) far from 1, so a missing norm scale shows
  for (float& v : nw) v = nd(rng);
  const float eps = 1e-5f;
  std::vector<double> xn(cols);
  double ss = 0;
  for (float v : x) ss += double(v) * v;
  for (uint32_t k = 0; k < cols; ++k) xn[k] = norm ? x[k] / std::sqrt(ss / cols + eps) * nw[k] : x[k];
  std::vector<float> row(cols);
  std::vector<double> ref(rows);
  for (uint32_t r = 0; r < rows; ++r) {
    double g = 0, u = 0;
    dequantize_row(f.q->type, gbytes.data() + r * rb, row.data(), cols);
    for (uint32_t k = 0; k < cols; ++k) g += row[k] * xn[k];
    dequantize_row(f.q->type, ubytes.data() + r * rb, row.data(), cols);
    for (uint32_t k = 0; k < cols; ++k) u += row[k] * xn[k];
    ref[r] = g / (1 + std::exp(-g)) * u;
  }
  vk::Buffer gb = test::upload(gbytes), ub = test::upload(ubytes), xb = test::upload(x), nb = test::upload(nw),
             yb = test::upload(nullptr, rows * 4);
  vk::WeightView gw{f.q->type, gb.address(), cols, rows, rb}, uw{f.q->type, ub.address(), cols, rows, rb};
  VkCommandBuffer cmd = gpu()->stream->begin();
  vk::Buffer xq;
  const auto [in, fuse] = product_input(cmd, xb, cols, vk::InputFusion{0, norm ? nb.address() : 0, eps}, xq);
  gpu()->ops->matvec_swiglu(cmd, gw, uw, in, yb.address(), fuse);
  gpu()->stream->submit_and_wait();
  const double bound = int8_decode(f.q->type, 1) ? 1e-3 : 1e-9;
  EXPECT_LT(test::nmse(test::read_floats(yb, ref.size()), ref), bound) << "normalised MSE";
}

// The one-token gate/up pair with the SwiGLU applied on the way out.
TEST_P(QuantKernels, GateUpSwigluMatchesReference) {
  HALO_REQUIRE_VULKAN(gpu());
  const char* type = GetParam();
  QuantFixture f = load_fixture(type);
  ASSERT_NE(f.q, nullptr);
  const uint32_t block = type_info(f.q->type).block_elems;
  const uint32_t long_cols = 9 * 512 - (block == 1 ? 4 : block);
  with_and_without_int8(f.q->type, [&] {
    check_swiglu(type, 7, long_cols, true);
    check_swiglu(type, 16, 512, false);
  });
}

// The one-token Q/K/V epilogue: the plain product's rows rotated in pairs
// (2i, 2i+1) by the table's angles at pos, over the first rope_dim of each
// head, and written as f32 to y or as f16 pairs to a cache row.
TEST_P(QuantKernels, RopeEpilogueRotatesAndStoresPairs) {
  HALO_REQUIRE_VULKAN(gpu());
  QuantFixture f = load_fixture(GetParam());
  ASSERT_NE(f.q, nullptr);
  const uint32_t rows = 16, cols = 512, head_dim = 8, rope_dim = 6, pos = 5, half = rope_dim / 2;
  const uint32_t rb = static_cast<uint32_t>(*row_bytes(f.q->type, cols));
  std::vector<uint8_t> wbytes = slice_rows(*f.q, rows, cols);
  std::mt19937 rng(17);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(cols), table((pos + 1) * half * 2);
  for (float& v : x) v = nd(rng);
  for (uint32_t i = 0; i < table.size(); i += 2) {
    float a = nd(rng);
    table[i] = std::cos(a), table[i + 1] = std::sin(a);
  }
  vk::Buffer wb = test::upload(wbytes), xb = test::upload(x), tb = test::upload(table),
             plain = test::upload(nullptr, rows * 4), rotated = test::upload(nullptr, rows * 4),
             cache = test::upload(nullptr, rows * 2);
  vk::WeightView w{f.q->type, wb.address(), cols, rows, rb};
  with_and_without_int8(f.q->type, [&] {
    VkCommandBuffer cmd = gpu()->stream->begin();
    vk::Buffer xq;
    const auto [in, fuse] = product_input(cmd, xb, cols, {}, xq);
    gpu()->ops->matmul(cmd, w, in, plain.address(), 1, 0, false, fuse);
    vk::RopeStore rs{tb.address(), 0, pos, head_dim, rope_dim};
    gpu()->ops->matvec_rope(cmd, w, in, rotated.address(), 0, fuse, rs);
    rs.cache = cache.address();
    gpu()->ops->matvec_rope(cmd, w, in, 0, 0, fuse, rs);
    gpu()->stream->submit_and_wait();
    const std::vector<float> y = test::read_floats(plain, rows);
    std::vector<double> want(y.begin(), y.end());
    for (uint32_t r = 0; r < rows; r += 2) {
      uint32_t c = r % head_dim;
      if (c >= rope_dim) continue;
      double cs = table[(pos * half + c / 2) * 2], sn = table[(pos * half + c / 2) * 2 + 1];
      want[r] = y[r] * cs - y[r + 1] * sn;
      want[r + 1] = y[r] * sn + y[r + 1] * cs;
    }
    EXPECT_LT(test::nmse(test::read_floats(rotated, rows), want), 1e-12) << "rotated rows";
    const auto* half_words = static_cast<const uint16_t*>(cache.host());
    for (uint32_t r = 0; r < rows; ++r)
      EXPECT_NEAR(fp16_to_fp32(half_words[r]), want[r], 1e-3 * std::fabs(want[r]) + 1e-4) << "cache row " << r;
  });
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantKernels, ::testing::ValuesIn(kTypes));

// An 8-bit input (push.h, XQ_ layout) against the CPU: per block of 32,
// int8 round(x' / d) with d = max|x'| / 127 (x' = x * norm, or x), the sum
// of squares of x, and a zero counter. A block of zeros gets d = 0.
void expect_quantized(const vk::Buffer& out, const std::vector<float>& x, const std::vector<float>* norm) {
  const uint32_t cols = static_cast<uint32_t>(x.size());
  const auto* qs = static_cast<const int8_t*>(out.host());
  const auto* d = reinterpret_cast<const float*>(qs + cols);
  const float* sumsq = d + cols / 32;
  const auto* counters = reinterpret_cast<const uint32_t*>(sumsq + cols / 32);
  int bad = 0;
  for (uint32_t b = 0; b < cols / 32; ++b) {
    float amax = 0;
    double ss = 0;
    for (uint32_t k = b * 32; k < b * 32 + 32; ++k) {
      amax = std::max(amax, std::fabs(norm ? x[k] * (*norm)[k] : x[k]));
      ss += double(x[k]) * x[k];
    }
    EXPECT_NEAR(d[b], amax / 127, 1e-6 * amax) << "block " << b;
    EXPECT_NEAR(sumsq[b], ss, 1e-5 * ss) << "block " << b;
    EXPECT_EQ(counters[b], 0u) << "block " << b;
    for (uint32_t k = b * 32; k < b * 32 + 32; ++k) {
      const float want = amax > 0 ? (norm ? x[k] * (*norm)[k] : x[k]) / amax * 127 : 0;
      if (std::fabs(qs[k] - want) > 0.5001f && ++bad <= 10) ADD_FAILURE() << "value " << k << ": " << int(qs[k]) << " vs " << want;
    }
  }
}

void check_quantize_input(uint32_t cols, bool norm) {
  SCOPED_TRACE(std::to_string(cols) + " values" + (norm ? " +norm" : ""));
  std::mt19937 rng(cols);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> x(cols), nw(cols);
  for (float& v : x) v = nd(rng);
  for (float& v : nw) v = nd(rng);
  for (uint32_t k = 32; k < 64 && k < cols; ++k) x[k] = 0;  // an all-zero block
  const float eps = 1e-5f;
  std::vector<uint8_t> zeros(vk::Ops::quantized_input_bytes(cols));
  vk::Buffer xb = test::upload(x), nb = test::upload(nw), out = test::upload(zeros);
  gpu()->ops->quantize_input(gpu()->stream->begin(), xb.address(), norm ? nb.address() : 0, eps, cols, out.address());
  gpu()->stream->submit_and_wait();
  expect_quantized(out, x, norm ? &nw : nullptr);
}

TEST(QuantizeInput, MatchesReferenceQuantization) {
  HALO_REQUIRE_VULKAN(gpu());
  check_quantize_input(4096, true);
  check_quantize_input(11008, false);
  check_quantize_input(32, true);
}

TEST(QuantKernelsF32, MatrixProductMatchesOnRandomF32Weights) {
  HALO_REQUIRE_VULKAN(gpu());
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (uint32_t ntok : {1u, 33u}) {
    const uint32_t rows = 19, cols = 92;
    std::vector<float> w(rows * cols), x(ntok * cols);
    for (float& v : w) v = nd(rng);
    for (float& v : x) v = nd(rng);
    const std::vector<double> ref = test::reference_product(w, x, rows, cols, ntok);
    vk::Buffer wb = test::upload(w), xb = test::upload(x), yb = test::upload(nullptr, ref.size() * 4);
    gpu()->ops->matmul(gpu()->stream->begin(), vk::WeightView{GgmlType::F32, wb.address(), cols, rows, cols * 4},
                       xb.address(), yb.address(), ntok);
    gpu()->stream->submit_and_wait();
    EXPECT_LT(test::nmse(test::read_floats(yb, ref.size()), ref), nmse_bound(GgmlType::F32, ntok, 1e-10)) << ntok << " tokens";
  }
}

// A one-token product's output quantized by its own epilogue (the last
// workgroup of each 32-row block), plain, accumulating and as the gate/up
// pair: the same bytes quantize_input makes of the f32 output, twice in a
// row (the block counters must be back at zero after each dispatch).
TEST(QuantizedOutput, MatchesQuantizeInputOfTheResult) {
  HALO_REQUIRE_VULKAN(gpu());
  QuantFixture f = load_fixture("q8_0");
  ASSERT_NE(f.q, nullptr);
  const uint32_t rows = 96, cols = 512, rb = static_cast<uint32_t>(*row_bytes(f.q->type, cols));
  std::vector<uint8_t> wbytes;
  for (uint32_t copy = 0; copy < rows / 16; ++copy) {
    std::vector<uint8_t> part = slice_rows(*f.q, 16, cols);
    wbytes.insert(wbytes.end(), part.begin(), part.end());
  }
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(cols), nw(rows), y0(rows);
  for (float& v : x) v = nd(rng);
  for (float& v : nw) v = nd(rng);
  for (float& v : y0) v = nd(rng);
  std::vector<uint8_t> zeros(vk::Ops::quantized_input_bytes(rows));
  vk::Buffer wb = test::upload(wbytes), xb = test::upload(x), nb = test::upload(nw), xq = test::upload(zeros);
  vk::WeightView w{f.q->type, wb.address(), cols, rows, rb};
  for (int pass = 0; pass < 2; ++pass)
    for (bool accumulate : {false, true})
      for (bool dual : {false, true}) {
        SCOPED_TRACE(std::string("pass ") + std::to_string(pass) + (accumulate ? " accumulate" : "") + (dual ? " gate/up" : ""));
        if (dual && accumulate) continue;
        vk::Buffer yb = test::upload(y0);
        VkCommandBuffer cmd = gpu()->stream->begin();
        const vk::QuantizedOutput out{xq.address(), dual ? 0 : nb.address()};
        if (dual) gpu()->ops->matvec_swiglu(cmd, w, w, xb.address(), yb.address(), {}, out);
        else gpu()->ops->matmul(cmd, w, xb.address(), yb.address(), 1, 0, accumulate, {}, out);
        gpu()->stream->submit_and_wait();
        expect_quantized(xq, test::read_floats(yb, rows), dual ? nullptr : &nw);
      }
}

}  // namespace
}  // namespace halo
