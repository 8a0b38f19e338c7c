// The cooperative-matrix GEMM (matmul_cm*, f16 inputs, f32 accumulation)
// against the CPU reference: several weight types from quant-fixture.gguf,
// shapes that are not multiples of the tiles or of the 32-column K slice,
// bias and residual accumulation, in every tile configuration the device's
// subgroup size allows (Ops::coopmat_configs), the f16 ("h") ones with
// scratch that holds a whole matrix and with scratch that forces chunks of
// rows. The f16 pre-pass (to_f16) is checked on any device. GEMMs run where the device offers
// VK_KHR_cooperative_matrix (NVIDIA, RADV/AMDVLK on RDNA3) and skips with the
// reason elsewhere (lavapipe) or under HALO_VULKAN_COOPMAT=0.
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

#define REQUIRE_COOPMAT()                                                                             \
  do {                                                                                                \
    HALO_REQUIRE_VULKAN(gpu());                                                                       \
    if (!gpu()->ctx->features().coopmat_gemm)                                                         \
      GTEST_SKIP() << "no cooperative-matrix GEMM on " << gpu()->ctx->name() << ": "                  \
                   << gpu()->ctx->features().coopmat_blocker;                                         \
  } while (0)

// f16 inputs: each product carries ~2^-11 relative rounding on both factors,
// so the normalised error of a K-long sum sits near 1e-7; 1e-5 still catches
// any wrong tile, row or token (those give errors of order 1).
constexpr double kF16Bound = 1e-5;

// rows x cols of fixture tensor "<type>.q" (16 x 512), rows and whole blocks
// repeated cyclically to reach larger shapes.
std::vector<uint8_t> tiled_weights(const gguf::TensorInfo& t, uint32_t rows, uint32_t cols) {
  uint64_t full = *row_bytes(t.type, t.ne[0]), part = *row_bytes(t.type, cols);
  std::vector<uint8_t> out(rows * part);
  for (uint32_t r = 0; r < rows; ++r)
    for (uint64_t done = 0; done < part; done += full)
      std::memcpy(out.data() + r * part + done, t.data + (r % t.ne[1]) * full, std::min(full, part - done));
  return out;
}

struct Case {
  uint32_t rows, cols, ntok;
  bool bias, accumulate;
};

void check_gemm(const char* type, const Case& c) {
  SCOPED_TRACE(std::string(type) + " rows " + std::to_string(c.rows) + " cols " + std::to_string(c.cols) +
               " tokens " + std::to_string(c.ntok) + (c.bias ? " +bias" : "") + (c.accumulate ? " +accumulate" : ""));
  auto file = gguf::File::open(test::fixture("quant-fixture.gguf"), gguf::Contents::All);
  const gguf::TensorInfo* q = file->tensor(std::string(type) + ".q");
  ASSERT_NE(q, nullptr);
  std::vector<uint8_t> wbytes = tiled_weights(*q, c.rows, c.cols);
  const uint32_t rb = static_cast<uint32_t>(*row_bytes(q->type, c.cols));
  std::vector<float> wf(uint64_t{c.rows} * c.cols);
  for (uint32_t r = 0; r < c.rows; ++r)
    dequantize_row(q->type, wbytes.data() + uint64_t{r} * rb, wf.data() + uint64_t{r} * c.cols, c.cols);

  std::mt19937 rng(c.rows * 131 + c.cols * 7 + c.ntok);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(uint64_t{c.ntok} * c.cols), b(c.rows), y0(uint64_t{c.ntok} * c.rows);
  for (float& v : x) v = nd(rng);
  for (float& v : b) v = nd(rng);
  for (float& v : y0) v = nd(rng);
  std::vector<double> ref(uint64_t{c.ntok} * c.rows);
  for (uint32_t t = 0; t < c.ntok; ++t)
    for (uint32_t r = 0; r < c.rows; ++r) {
      double s = 0;
      for (uint32_t k = 0; k < c.cols; ++k) s += double(wf[uint64_t{r} * c.cols + k]) * x[uint64_t{t} * c.cols + k];
      if (c.bias) s += b[r];
      if (c.accumulate) s += y0[uint64_t{t} * c.rows + r];
      ref[uint64_t{t} * c.rows + r] = s;
    }

  vk::Buffer wbuf = test::upload(wbytes), xb = test::upload(x), bb = test::upload(b), yb = test::upload(y0);
  vk::WeightView w{q->type, wbuf.address(), c.cols, c.rows, rb};
  gpu()->ops->matmul(gpu()->stream->begin(), w, xb.address(), yb.address(), c.ntok, c.bias ? bb.address() : 0,
                     c.accumulate);
  gpu()->stream->submit_and_wait();
  std::vector<float> got = test::read_floats(yb, ref.size());
  EXPECT_LT(test::nmse(got, ref), kF16Bound) << "normalised MSE";
  // A dropped edge tile would hide in the mean of a large product: check every entry too.
  int bad = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    if (std::fabs(got[i] - ref[i]) > 0.02 * std::fabs(ref[i]) + 0.05 * std::sqrt(double(c.cols)) && ++bad <= 10)
      ADD_FAILURE() << "token " << i / c.rows << " row " << i % c.rows << ": " << got[i] << " vs " << ref[i];
  EXPECT_EQ(bad, 0);
}

// Scratch for the f16 configurations that holds every product of these
// tests in one chunk: activations of up to 256 tokens x 1088 columns and
// 1 MiB of f16 rows.
const uint64_t kWholeScratch = vk::Ops::gemm_scratch_bytes(1088, 256, 1 << 19);

// Runs body once per tile configuration of this device, with scratch_bytes
// of f16 scratch, then restores the default.
template <typename Body>
void for_each_config(Body body, uint64_t scratch_bytes = kWholeScratch) {
  std::vector<std::string> tags = vk::Ops::coopmat_configs(gpu()->ctx->features().subgroup_size);
  ASSERT_FALSE(tags.empty()) << "no configuration for subgroup size " << gpu()->ctx->features().subgroup_size;
  vk::Buffer scratch(*gpu()->ctx, scratch_bytes, vk::MemoryUse::Device, "test GEMM scratch");
  gpu()->ops->set_gemm_scratch(scratch.address(), scratch.size());
  gpu()->ops->set_coopmat_fill(false);  // each tag runs as itself, whatever the shape
  for (const std::string& tag : tags) {
    SCOPED_TRACE("HALO_VULKAN_CM=" + tag);
    gpu()->ops->set_coopmat_config(tag);
    body();
  }
  gpu()->ops->set_coopmat_config("");
  gpu()->ops->set_coopmat_fill(true);
  gpu()->ops->set_gemm_scratch(0, 0);
}

const char* const kTypes[] = {"f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0",
                              "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs", "mxfp4"};

// Host-side facts, checked without a device: every configuration is built
// for every type, and the subgroup sizes each one accepts.
TEST(CoopmatConfigs, EveryConfigurationIsBuiltForEveryType) {
  std::vector<std::string> all = vk::Ops::coopmat_configs(32);
  EXPECT_EQ(all, (std::vector<std::string>{"128x128s64k64h", "128x128t2h", "128x128h", "128x128", "128x64",
                                           "128x128w64h", "128x128w64", "64x64", "128x64h", "64x64h", "128x128t2",
                                           "128x128k64h", "128x128t2k64h", "128x128s64h"}));
  for (const std::string& tag : all) {
    if (tag.back() == 'h') {  // one build for every type, after the type's to_f16 pre-pass
      EXPECT_TRUE(vk::Pipelines::has("matmul_cm" + tag)) << tag;
      continue;
    }
    for (const char* t : kTypes) EXPECT_TRUE(vk::Pipelines::has("matmul_cm" + tag + "_" + t)) << tag << " " << t;
  }
  for (const char* t : kTypes) EXPECT_TRUE(vk::Pipelines::has(std::string("to_f16_") + t)) << t;
  // wave64: 128 lanes are 2 subgroups, which cover 4 warp tiles only at 2 each.
  EXPECT_EQ(vk::Ops::coopmat_configs(64), (std::vector<std::string>{"128x128w64h", "128x128w64", "64x64", "64x64h"}));
  EXPECT_TRUE(vk::Ops::coopmat_configs(0).empty());
}

// Products with too few 128x128 tiles to fill the GPU (under 128 workgroups)
// take the 64x64 sibling of their configuration, forced or not, unless fill is off.
TEST(CoopmatConfigs, SmallProductsTakeSmallerTiles) {
  auto pick = [](const char* forced, uint32_t rows, uint32_t ntok, uint32_t sg, bool fill) {
    return vk::Ops::coopmat_config_for(forced, rows, ntok, sg, /*have_scratch=*/true, fill);
  };
  EXPECT_EQ(pick("", 4096, 512, 32, true), "128x128s64k64h");  // 32 x 4 = 128 workgroups
  EXPECT_EQ(pick("", 1024, 512, 32, true), "64x64h");       // 8 x 4 = 32 -> 16 x 8 = 128
  EXPECT_EQ(pick("", 1024, 512, 32, false), "128x128s64k64h");
  EXPECT_EQ(pick("128x128h", 1024, 512, 32, true), "64x64h");
  EXPECT_EQ(pick("128x128", 1024, 512, 32, true), "64x64");  // in-loop stays in-loop
  EXPECT_EQ(pick("128x128w64h", 1024, 512, 64, true), "64x64h");
  EXPECT_EQ(pick("128x128h", 64, 512, 32, true), "64x64h");  // fewer still, but more than 128x128's
  EXPECT_EQ(pick("64x64h", 16, 512, 32, true), "64x64h");
}

class CoopmatGemm : public ::testing::TestWithParam<const char*> {};

TEST_P(CoopmatGemm, MatchesReferenceOnTileAndOddShapes) {
  REQUIRE_COOPMAT();
  const char* type = GetParam();
  auto file = gguf::File::open(test::fixture("quant-fixture.gguf"), gguf::Contents::All);
  const uint32_t block = type_info(file->tensor(std::string(type) + ".q")->type).block_elems;
  const uint32_t odd_cols = block == 1 ? 500 : 512 - block;  // K not a multiple of the 32-column slice for floats
  for_each_config([&] {
    check_gemm(type, {64, 512, 64, false, false});     // exactly one 64x64 tile
    check_gemm(type, {128, 1024, 130, false, false});  // one 128-row tile, 2 tokens into the next column of tiles
    check_gemm(type, {256, 512, 256, true, false});    // 2x2 tiles of 128x128
    check_gemm(type, {70, odd_cols, 9, true, true});   // rows, tokens and K past the tile edges
    check_gemm(type, {13, odd_cols, 67, true, false});
    check_gemm(type, {200, 512, 33, false, true});
  });
}

// Scratch for the activations and 128 f16 rows only: the f16
// configurations run products of more rows in chunks (bias and y offset per chunk).
TEST_P(CoopmatGemm, MatchesReferenceInChunksOfRows) {
  REQUIRE_COOPMAT();
  const char* type = GetParam();
  for (const Case& c : {Case{300, 512, 150, true, true},  // 3 chunks: 128 + 128 + 44 rows
                        Case{256, 1024, 129, false, false}}) {
    const uint64_t row = uint64_t{c.cols} * 2, x = (c.ntok * row + 255) / 256 * 256;
    for_each_config([&] { check_gemm(type, c); }, x + 128 * row + row / 2);
  }
}

// to_f16 (any device): rows of each type into f16 rows padded with zeros,
// against the CPU dequantization rounded to f16.
class ToF16 : public ::testing::TestWithParam<const char*> {};

TEST_P(ToF16, MatchesReferenceAndZeroPads) {
  HALO_REQUIRE_VULKAN(gpu());
  const char* type = GetParam();
  auto file = gguf::File::open(test::fixture("quant-fixture.gguf"), gguf::Contents::All);
  const gguf::TensorInfo* q = file->tensor(std::string(type) + ".q");
  ASSERT_NE(q, nullptr);
  const uint32_t block = type_info(q->type).block_elems;
  const uint32_t rows = 70, cols = block == 1 ? 500 : 512 - block, ldk = 576, row0 = 5, n = 60;
  std::vector<uint8_t> wbytes = tiled_weights(*q, rows, cols);
  const uint32_t rb = static_cast<uint32_t>(*row_bytes(q->type, cols));
  vk::Buffer wbuf = test::upload(wbytes), out = test::upload(std::vector<uint16_t>(uint64_t{n} * ldk, 0x7E00));
  gpu()->ops->to_f16(gpu()->stream->begin(), vk::WeightView{q->type, wbuf.address(), cols, rows, rb}, row0, n,
                     out.address(), ldk);
  gpu()->stream->submit_and_wait();
  const uint16_t* got = static_cast<const uint16_t*>(out.host());
  std::vector<float> ref(cols);
  int bad = 0;
  for (uint32_t r = 0; r < n; ++r) {
    dequantize_row(q->type, wbytes.data() + uint64_t{row0 + r} * rb, ref.data(), cols);
    for (uint32_t k = 0; k < ldk; ++k) {
      float g = fp16_to_fp32(got[uint64_t{r} * ldk + k]), want = k < cols ? fp16_to_fp32(fp32_to_fp16(ref[k])) : 0.0f;
      // One f16 step of slack: the GPU's f32 dequantization may round differently before the f16 rounding.
      if (!(std::fabs(g - want) <= std::fabs(want) * 0x1p-10f + 1e-7f) && ++bad <= 10)
        ADD_FAILURE() << "row " << row0 + r << " col " << k << ": " << g << " vs " << want;
    }
  }
  EXPECT_EQ(bad, 0);
}

INSTANTIATE_TEST_SUITE_P(Types, ToF16,
                         ::testing::Values("f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K",
                                           "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs", "mxfp4"));

INSTANTIATE_TEST_SUITE_P(Types, CoopmatGemm,
                         ::testing::Values("f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K",
                                           "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs", "mxfp4"));

// The default pick on a product too small for 128x128 tiles (2 x 2 of them):
// the fill rule's 64x64 sibling, through the same scratch as the runner's.
TEST(CoopmatGemmFill, SmallProductMatchesReference) {
  REQUIRE_COOPMAT();
  vk::Buffer scratch(*gpu()->ctx, kWholeScratch, vk::MemoryUse::Device, "test GEMM scratch");
  gpu()->ops->set_gemm_scratch(scratch.address(), scratch.size());
  check_gemm("q4_0", {256, 512, 200, true, false});
  check_gemm("q8_0", {200, 1024, 250, false, true});
  gpu()->ops->set_gemm_scratch(0, 0);
}

// keep_gemm_input: products on one input convert it once, in one command
// buffer; a product on another input (same shape) still converts its own.
TEST(CoopmatGemmKeepInput, SharedInputMatchesSeparateProducts) {
  REQUIRE_COOPMAT();
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const uint32_t rows = 192, cols = 256, ntok = 160;
  std::vector<float> w1(rows * cols), w2(rows * cols), xa(ntok * cols), xb(ntok * cols);
  for (auto* v : {&w1, &w2, &xa, &xb})
    for (float& f : *v) f = nd(rng);
  auto ref = [&](const std::vector<float>& w, const std::vector<float>& x) {
    std::vector<double> r(ntok * rows);
    for (uint32_t t = 0; t < ntok; ++t)
      for (uint32_t i = 0; i < rows; ++i) {
        double s = 0;
        for (uint32_t k = 0; k < cols; ++k) s += double(w[i * cols + k]) * x[t * cols + k];
        r[t * rows + i] = s;
      }
    return r;
  };
  vk::Buffer b1 = test::upload(w1), b2 = test::upload(w2), bxa = test::upload(xa), bxb = test::upload(xb);
  std::vector<vk::Buffer> ys;
  for (int i = 0; i < 3; ++i) ys.push_back(test::upload(std::vector<float>(ntok * rows, std::nanf(""))));
  vk::Buffer scratch(*gpu()->ctx, kWholeScratch, vk::MemoryUse::Device, "test GEMM scratch");
  gpu()->ops->set_gemm_scratch(scratch.address(), scratch.size());
  auto view = [&](const vk::Buffer& b) { return vk::WeightView{GgmlType::F32, b.address(), cols, rows, cols * 4}; };
  VkCommandBuffer cmd = gpu()->stream->begin();
  gpu()->ops->keep_gemm_input(true);
  gpu()->ops->matmul(cmd, view(b1), bxa.address(), ys[0].address(), ntok);
  gpu()->ops->matmul(cmd, view(b2), bxa.address(), ys[1].address(), ntok);  // reuses xa's f16 rows
  gpu()->ops->matmul(cmd, view(b1), bxb.address(), ys[2].address(), ntok);  // converts xb
  gpu()->ops->keep_gemm_input(false);
  gpu()->stream->submit_and_wait();
  gpu()->ops->set_gemm_scratch(0, 0);
  EXPECT_LT(test::nmse(test::read_floats(ys[0], ntok * rows), ref(w1, xa)), kF16Bound);
  EXPECT_LT(test::nmse(test::read_floats(ys[1], ntok * rows), ref(w2, xa)), kF16Bound);
  EXPECT_LT(test::nmse(test::read_floats(ys[2], ntok * rows), ref(w1, xb)), kF16Bound);
}

// matmul_stacked: Q/K/V-like products of one input (rows 192, 64 and 40,
// biases on two) as one stacked GEMM where the device has cooperative
// matrices, and as separate products (stacking off; any device).
TEST(CoopmatGemmStacked, StackedProductsMatchReference) {
  HALO_REQUIRE_VULKAN(gpu());
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const uint32_t cols = 256, ntok = 160, rows[3] = {192, 64, 40};
  std::vector<float> x(ntok * cols);
  for (float& f : x) f = nd(rng);
  std::vector<std::vector<float>> w(3), bias(3);
  std::vector<vk::Buffer> wb, bb;
  for (int i = 0; i < 3; ++i) {
    w[i].resize(rows[i] * cols);
    bias[i].resize(rows[i]);
    for (float& f : w[i]) f = nd(rng);
    for (float& f : bias[i]) f = nd(rng);
    wb.push_back(test::upload(w[i]));
    bb.push_back(test::upload(bias[i]));
  }
  vk::Buffer xb = test::upload(x);
  vk::Buffer scratch(*gpu()->ctx, kWholeScratch, vk::MemoryUse::Device, "test GEMM scratch");
  gpu()->ops->set_gemm_scratch(scratch.address(), scratch.size());
  for (bool stack : {true, false}) {
    SCOPED_TRACE(stack ? "stacked" : "separate");
    gpu()->ops->set_stack_products(stack);
    std::vector<vk::Buffer> ys;
    std::vector<vk::StackedProduct> parts;
    for (int i = 0; i < 3; ++i) {
      ys.push_back(test::upload(std::vector<float>(ntok * rows[i], std::nanf(""))));
      parts.push_back({vk::WeightView{GgmlType::F32, wb[i].address(), cols, rows[i], cols * 4}, ys[i].address(),
                       i == 0 ? 0 : bb[i].address()});
    }
    gpu()->ops->matmul_stacked(gpu()->stream->begin(), parts, xb.address(), ntok);
    gpu()->stream->submit_and_wait();
    for (int i = 0; i < 3; ++i) {
      std::vector<double> ref = test::reference_product(w[i], x, rows[i], cols, ntok);
      if (i > 0)
        for (uint32_t t = 0; t < ntok; ++t)
          for (uint32_t r = 0; r < rows[i]; ++r) ref[t * rows[i] + r] += bias[i][r];
      EXPECT_LT(test::nmse(test::read_floats(ys[i], ref.size()), ref), kF16Bound) << "product " << i;
    }
  }
  gpu()->ops->set_stack_products(true);
  gpu()->ops->set_gemm_scratch(0, 0);
}

TEST(CoopmatGemmF32, MatchesReferenceOnRandomF32Weights) {
  REQUIRE_COOPMAT();
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const uint32_t rows = 97, cols = 1028, ntok = 75;
  std::vector<float> w(rows * cols), x(ntok * cols);
  for (float& v : w) v = nd(rng);
  for (float& v : x) v = nd(rng);
  const std::vector<double> ref = test::reference_product(w, x, rows, cols, ntok);
  vk::Buffer wb = test::upload(w), xb = test::upload(x);
  for_each_config([&] {
    // NaN first, so a configuration that writes nothing cannot pass on an earlier one's output.
    vk::Buffer yb = test::upload(std::vector<float>(ref.size(), std::nanf("")));
    gpu()->ops->matmul(gpu()->stream->begin(), vk::WeightView{GgmlType::F32, wb.address(), cols, rows, cols * 4},
                       xb.address(), yb.address(), ntok);
    gpu()->stream->submit_and_wait();
    EXPECT_LT(test::nmse(test::read_floats(yb, ref.size()), ref), kF16Bound);
  });
}

}  // namespace
}  // namespace halo
