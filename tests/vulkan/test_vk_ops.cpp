// Non-matrix kernels against naive double-precision loops: RMS norm (also
// per head), RoPE in both layouts, KV store + flash-style attention, SwiGLU
// and add, at odd sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/quant/dequant.h"
#include "tests/vulkan/vk_test_device.h"

namespace halo {
namespace {

using test::gpu;

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

float round_f16(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }

TEST(VulkanOps, RmsNormMatchesReferenceOnOddRows) {
  HALO_REQUIRE_VULKAN(gpu());
  for (uint32_t ncols : {37u, 1000u, 4096u}) {
    const uint32_t nrows = 3;
    auto x = random_floats(nrows * ncols, ncols), w = random_floats(ncols, ncols + 1);
    std::vector<double> ref(x.size());
    for (uint32_t r = 0; r < nrows; ++r) {
      double ss = 0;
      for (uint32_t i = 0; i < ncols; ++i) ss += double(x[r * ncols + i]) * x[r * ncols + i];
      double inv = 1.0 / std::sqrt(ss / ncols + 1e-5);
      for (uint32_t i = 0; i < ncols; ++i) ref[r * ncols + i] = x[r * ncols + i] * inv * w[i];
    }
    vk::Buffer xb = test::upload(x), wb = test::upload(w), yb = test::upload(nullptr, x.size() * 4);
    gpu()->ops->rms_norm(gpu()->stream->begin(), xb.address(), yb.address(), wb.address(), ncols, nrows, 1e-5f);
    gpu()->stream->submit_and_wait();
    EXPECT_LT(test::nmse(test::read_floats(yb, x.size()), ref), 1e-11) << ncols << " columns";
  }
}

TEST(VulkanOps, RopeRotatesBothLayoutsIncludingPartialRotation) {
  HALO_REQUIRE_VULKAN(gpu());
  const uint32_t ntok = 5, nheads = 3, head_dim = 64, pos0 = 7, n_ctx = 32;
  for (uint32_t rope_dim : {64u, 32u}) {
    for (uint32_t neox : {0u, 1u}) {
      const uint32_t half = rope_dim / 2;
      const double base = 10000.0;
      std::vector<float> table(n_ctx * half * 2);
      for (uint32_t p = 0; p < n_ctx; ++p)
        for (uint32_t i = 0; i < half; ++i) {
          double a = p * std::pow(base, -2.0 * i / rope_dim);
          table[(p * half + i) * 2] = float(std::cos(a));
          table[(p * half + i) * 2 + 1] = float(std::sin(a));
        }
      auto x = random_floats(ntok * nheads * head_dim, rope_dim + neox);
      std::vector<double> ref(x.begin(), x.end());
      for (uint32_t t = 0; t < ntok; ++t)
        for (uint32_t h = 0; h < nheads; ++h)
          for (uint32_t i = 0; i < half; ++i) {
            double a = (pos0 + t) * std::pow(base, -2.0 * i / rope_dim);
            uint32_t b = (t * nheads + h) * head_dim;
            uint32_t i0 = neox ? b + i : b + 2 * i, i1 = neox ? i0 + half : i0 + 1;
            ref[i0] = x[i0] * std::cos(a) - x[i1] * std::sin(a);
            ref[i1] = x[i0] * std::sin(a) + x[i1] * std::cos(a);
          }
      vk::Buffer xb = test::upload(x), tb = test::upload(table);
      gpu()->ops->rope(gpu()->stream->begin(),
                       vk::RopePush{xb.address(), tb.address(), ntok, nheads, head_dim, rope_dim, pos0, neox});
      gpu()->stream->submit_and_wait();
      EXPECT_LT(test::nmse(test::read_floats(xb, x.size()), ref), 1e-12) << "rope_dim " << rope_dim << " neox " << neox;
    }
  }
}

// Writes ntok new K/V rows at pos0 (after pos0 earlier rows), then attends.
// With split, attention gets the runner's scratch for partials (filled with
// NaN first, so a partial the combine reads but nobody wrote shows).
// Runs one attention kernel for the scope of a test.
class ForceAttention {
 public:
  explicit ForceAttention(vk::AttentionKernel k) { gpu()->ops->set_attention_kernel(k); }
  ~ForceAttention() { gpu()->ops->set_attention_kernel(vk::AttentionKernel::Auto); }
};

void check_attention(uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim, uint32_t ntok, uint32_t pos0,
                     bool split = false) {
  SCOPED_TRACE("heads " + std::to_string(n_head) + "/" + std::to_string(n_head_kv) + " head_dim " +
               std::to_string(head_dim) + " tokens " + std::to_string(ntok) + " after " + std::to_string(pos0) +
               (split ? " split" : ""));
  const uint32_t kv_dim = n_head_kv * head_dim, n_ctx = pos0 + ntok + 300, n_keys = pos0 + ntok;
  auto q = random_floats(ntok * n_head * head_dim, 1 + head_dim);
  auto k_all = random_floats(n_keys * kv_dim, 2 + head_dim), v_all = random_floats(n_keys * kv_dim, 3 + head_dim);
  // The cache holds f16; the reference sees the same rounded values.
  std::vector<uint16_t> k_cache(n_ctx * kv_dim), v_cache(n_ctx * kv_dim);
  for (uint32_t i = 0; i < pos0 * kv_dim; ++i) k_cache[i] = fp32_to_fp16(k_all[i]), v_cache[i] = fp32_to_fp16(v_all[i]);
  std::vector<float> k_new(k_all.begin() + pos0 * kv_dim, k_all.end()), v_new(v_all.begin() + pos0 * kv_dim, v_all.end());
  const double scale = 1.0 / std::sqrt(double(head_dim));
  std::vector<double> ref(q.size());
  for (uint32_t t = 0; t < ntok; ++t)
    for (uint32_t h = 0; h < n_head; ++h) {
      uint32_t kvh = h / (n_head / n_head_kv), seen = pos0 + t + 1;
      std::vector<double> s(seen);
      double m = -1e300, l = 0;
      for (uint32_t j = 0; j < seen; ++j) {
        double d = 0;
        for (uint32_t c = 0; c < head_dim; ++c)
          d += double(q[(t * n_head + h) * head_dim + c]) * round_f16(k_all[j * kv_dim + kvh * head_dim + c]);
        s[j] = d * scale;
        m = std::max(m, s[j]);
      }
      for (double& x : s) l += (x = std::exp(x - m));
      for (uint32_t c = 0; c < head_dim; ++c) {
        double o = 0;
        for (uint32_t j = 0; j < seen; ++j) o += s[j] * round_f16(v_all[j * kv_dim + kvh * head_dim + c]);
        ref[(t * n_head + h) * head_dim + c] = o / l;
      }
    }
  vk::Buffer qb = test::upload(q), kb = test::upload(k_new), vb = test::upload(v_new), kc = test::upload(k_cache),
             vc = test::upload(v_cache), out = test::upload(nullptr, q.size() * 4);
  const uint64_t partials_bytes = split ? vk::Ops::attention_partials_bytes(n_head, head_dim) : 0;
  std::vector<uint8_t> nan_bytes(partials_bytes + 4, 0xFF);
  vk::Buffer partials = test::upload(nan_bytes);
  VkCommandBuffer cmd = gpu()->stream->begin();
  gpu()->ops->kv_store(cmd, vk::KvStorePush{kb.address(), vb.address(), kc.address(), vc.address(), ntok, kv_dim, pos0});
  gpu()->stream->compute_barrier();
  vk::AttentionPush p{qb.address(), kc.address(), vc.address(), out.address(), ntok, n_head, n_head_kv, head_dim,
                      pos0, float(scale)};
  p.partials = split ? partials.address() : 0;
  gpu()->ops->attention(cmd, p, partials_bytes);
  gpu()->stream->submit_and_wait();
  // Inputs rounded like the kernel's: the new K/V were stored as f16 too.
  EXPECT_LT(test::nmse(test::read_floats(out, q.size()), ref), 1e-9);
}

TEST(VulkanOps, AttentionMatchesSoftmaxReferenceForPromptAndDecode) {
  HALO_REQUIRE_VULKAN(gpu());
  for (auto k : {vk::AttentionKernel::Auto, vk::AttentionKernel::PerHead, vk::AttentionKernel::Blocked,
                 vk::AttentionKernel::Prompt}) {
    ForceAttention force(k);
    SCOPED_TRACE("kernel " + std::to_string(static_cast<int>(k)));
    check_attention(4, 2, 64, 37, 0);     // prompt batch, GQA
    check_attention(4, 2, 64, 1, 150);    // decode step past one key tile
    check_attention(2, 2, 128, 3, 130);   // several tokens after a tile boundary
    check_attention(6, 1, 80, 9, 17);     // odd head size, one KV head
    check_attention(2, 1, 256, 2, 5);     // the widest head
    check_attention(8, 2, 128, 1, 700);   // decode past the per-head kernel's key limit
  }
}

TEST(VulkanOps, AttentionSplitsDecodeKeysAndMergesThem) {
  HALO_REQUIRE_VULKAN(gpu());
  ForceAttention force(vk::AttentionKernel::Blocked);
  for (uint32_t pos0 : {0u, 1u, 63u, 200u, 1999u}) {
    check_attention(8, 2, 128, 1, pos0, true);  // GQA 4
  }
  check_attention(4, 4, 64, 1, 700, true);    // no GQA
  check_attention(4, 4, 128, 1, 700, true);   // no GQA at head_dim 128 (one row per invocation)
  check_attention(6, 2, 128, 1, 300, true);   // GQA 3: two rows per invocation, one idle
  check_attention(16, 2, 64, 1, 1000, true);  // GQA 8
  check_attention(8, 1, 80, 1, 555, true);    // head not a power of two
  check_attention(4, 2, 36, 1, 300, true);    // rows not a multiple of 16 bytes: word loads
  check_attention(2, 1, 256, 1, 900, true);   // the widest head, short key tiles
  check_attention(8, 2, 128, 3, 1500, true);  // a few tokens: causal rows inside one split
  check_attention(8, 2, 64, 12, 500, true);   // prompt build with splits (some rows see none of the last)
  check_attention(8, 2, 128, 1, 1200);        // no scratch: one workgroup walks every key
}

TEST(VulkanOps, AttentionPromptTilesMaskEachQuery) {
  HALO_REQUIRE_VULKAN(gpu());
  ForceAttention force(vk::AttentionKernel::Blocked);
  check_attention(8, 2, 128, 37, 13);  // 4 tokens x 4 heads a block; the last block partial
  check_attention(4, 4, 64, 70, 45);   // no GQA: 32 tokens a block
  check_attention(16, 2, 64, 21, 0);   // GQA 8
  check_attention(6, 2, 80, 33, 100);  // GQA 3 splits blocks mid-token
  check_attention(4, 1, 6, 40, 7);     // tiny head: word loads, long key tiles
  check_attention(2, 1, 256, 19, 40);  // the widest head
}

// attention_prompt.comp in both configurations (32 and 64 query rows a
// workgroup, 16-key tiles): blocks that end mid-batch, diagonal tiles after
// a cached prefix, GQA groups, the unrolled head sizes and the generic build.
TEST(VulkanOps, AttentionPromptKernelMatchesReference) {
  HALO_REQUIRE_VULKAN(gpu());
  ForceAttention force(vk::AttentionKernel::Prompt);
  for (const char* cfg : {"q32", "q64"}) {
    SCOPED_TRACE(cfg);
    gpu()->ops->set_attention_prompt_config(cfg);
    check_attention(4, 4, 128, 77, 0);   // no GQA, from position 0; last block partial
    check_attention(8, 2, 128, 70, 37);  // GQA 4 after a prefix that ends mid-tile
    check_attention(16, 2, 64, 40, 16);  // GQA 8, prefix of whole tiles
    check_attention(6, 2, 64, 129, 5);   // GQA 3, several blocks
    check_attention(8, 2, 128, 50, 46);  // a block's first row sees all but a tile's last key
    check_attention(6, 2, 80, 33, 110);  // generic build: head size without its own; as above
    check_attention(2, 1, 256, 45, 3);   // generic build: the widest head
    check_attention(4, 2, 36, 17, 0);    // generic build: word-sized rows
    check_attention(4, 4, 128, 3, 20);   // fewer tokens than a block
  }
  gpu()->ops->set_attention_prompt_config("q32");
}

TEST(VulkanOps, SwigluAndAddMatchReference) {
  HALO_REQUIRE_VULKAN(gpu());
  const uint32_t n = 1001;
  auto a = random_floats(n, 11, 3.0f), b = random_floats(n, 12);
  std::vector<double> swiglu(n), sum(n);
  for (uint32_t i = 0; i < n; ++i) {
    swiglu[i] = a[i] / (1.0 + std::exp(-double(a[i]))) * b[i];
    sum[i] = double(a[i]) + b[i];
  }
  vk::Buffer ab = test::upload(a), bb = test::upload(b), o1 = test::upload(nullptr, n * 4), o2 = test::upload(nullptr, n * 4);
  VkCommandBuffer cmd = gpu()->stream->begin();
  gpu()->ops->swiglu(cmd, ab.address(), bb.address(), o1.address(), n);
  gpu()->ops->add(cmd, ab.address(), bb.address(), o2.address(), n);
  gpu()->stream->submit_and_wait();
  EXPECT_LT(test::nmse(test::read_floats(o1, n), swiglu), 1e-12);
  EXPECT_LT(test::nmse(test::read_floats(o2, n), sum), 1e-14);
}


TEST(VulkanOps, MatvecFusesRmsNormAndSwiglu) {
  HALO_REQUIRE_VULKAN(gpu());
  const uint32_t rows = 19, cols = 96;
  for (uint32_t ntok : {1u, 3u}) {  // 1: the single-token (matvec1_) build
    auto w = random_floats(rows * cols, 21), x = random_floats(ntok * cols, 22), up = random_floats(ntok * cols, 23),
         nw = random_floats(cols, 24);
    for (bool norm : {true, false}) {
      std::vector<double> ref(ntok * rows);
      for (uint32_t t = 0; t < ntok; ++t) {
        std::vector<double> in(cols);
        double ss = 0;
        for (uint32_t k = 0; k < cols; ++k) ss += double(x[t * cols + k]) * x[t * cols + k];
        for (uint32_t k = 0; k < cols; ++k) {
          double v = x[t * cols + k];
          in[k] = norm ? v / std::sqrt(ss / cols + 1e-6) * nw[k] : v / (1 + std::exp(-v)) * up[t * cols + k];
        }
        for (uint32_t r = 0; r < rows; ++r) {
          double s = 0;
          for (uint32_t k = 0; k < cols; ++k) s += w[r * cols + k] * in[k];
          ref[t * rows + r] = s;
        }
      }
      vk::Buffer wb = test::upload(w), xb = test::upload(x), ub = test::upload(up), nb = test::upload(nw),
                 yb = test::upload(nullptr, ref.size() * 4);
      vk::InputFusion fuse = norm ? vk::InputFusion{0, nb.address(), 1e-6f} : vk::InputFusion{ub.address(), 0, 0};
      gpu()->ops->matmul(gpu()->stream->begin(), vk::WeightView{GgmlType::F32, wb.address(), cols, rows, cols * 4},
                         xb.address(), yb.address(), ntok, 0, false, fuse);
      gpu()->stream->submit_and_wait();
      EXPECT_LT(test::nmse(test::read_floats(yb, ref.size()), ref), 1e-10) << (norm ? "norm" : "swiglu");
    }
  }
}

TEST(VulkanOps, RopeKvRotatesQAndKAndFillsTheCache) {
  HALO_REQUIRE_VULKAN(gpu());
  const uint32_t ntok = 3, n_head = 4, n_kv = 2, head_dim = 32, pos0 = 5, n_ctx = 16, kv_dim = n_kv * head_dim;
  for (uint32_t rope_dim : {32u, 16u}) {
    for (uint32_t neox : {0u, 1u}) {
      const uint32_t half = rope_dim / 2;
      std::vector<float> table(n_ctx * half * 2);
      for (uint32_t p = 0; p < n_ctx; ++p)
        for (uint32_t i = 0; i < half; ++i) {
          double a = p * std::pow(10000.0, -2.0 * i / rope_dim);
          table[(p * half + i) * 2] = float(std::cos(a)), table[(p * half + i) * 2 + 1] = float(std::sin(a));
        }
      auto q = random_floats(ntok * n_head * head_dim, 31 + rope_dim + neox), k = random_floats(ntok * kv_dim, 32),
           v = random_floats(ntok * kv_dim, 33);
      // Reference: rotate each head's pairs in double.
      auto rotate = [&](std::vector<float> x, uint32_t heads) {
        std::vector<double> r(x.begin(), x.end());
        for (uint32_t t = 0; t < ntok; ++t)
          for (uint32_t h = 0; h < heads; ++h)
            for (uint32_t i = 0; i < half; ++i) {
              double a = (pos0 + t) * std::pow(10000.0, -2.0 * i / rope_dim);
              uint32_t b = (t * heads + h) * head_dim, i0 = neox ? b + i : b + 2 * i, i1 = neox ? i0 + half : i0 + 1;
              r[i0] = x[i0] * std::cos(a) - x[i1] * std::sin(a);
              r[i1] = x[i0] * std::sin(a) + x[i1] * std::cos(a);
            }
        return r;
      };
      const auto q_ref = rotate(q, n_head), k_ref = rotate(k, n_kv);
      vk::Buffer qb = test::upload(q), kb = test::upload(k), vb = test::upload(v), tb = test::upload(table),
                 kc = test::upload(nullptr, n_ctx * kv_dim * 2), vc = test::upload(nullptr, n_ctx * kv_dim * 2);
      vk::KvStorePush p{kb.address(), vb.address(), kc.address(), vc.address(), ntok, kv_dim, pos0};
      p.q = qb.address(), p.table = tb.address(), p.n_head = n_head, p.head_dim = head_dim, p.rope_dim = rope_dim,
      p.neox = neox;
      gpu()->ops->rope_kv(gpu()->stream->begin(), p);
      gpu()->stream->submit_and_wait();
      SCOPED_TRACE("rope_dim " + std::to_string(rope_dim) + " neox " + std::to_string(neox));
      EXPECT_LT(test::nmse(test::read_floats(qb, q.size()), q_ref), 1e-12);
      const uint16_t* kh = static_cast<const uint16_t*>(kc.host()) + pos0 * kv_dim;
      const uint16_t* vh = static_cast<const uint16_t*>(vc.host()) + pos0 * kv_dim;
      std::vector<float> k_got(k.size()), v_got(v.size());
      std::vector<double> v_ref(v.begin(), v.end());
      for (size_t i = 0; i < k.size(); ++i) k_got[i] = fp16_to_fp32(kh[i]), v_got[i] = fp16_to_fp32(vh[i]);
      EXPECT_LT(test::nmse(k_got, k_ref), 1e-6) << "K in the cache (f16)";
      EXPECT_LT(test::nmse(v_got, v_ref), 1e-6) << "V in the cache (f16)";
      EXPECT_EQ(static_cast<const uint16_t*>(kc.host())[0], 0) << "rows before pos0 untouched";
    }
  }
}

}  // namespace
}  // namespace halo
