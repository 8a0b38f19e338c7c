// RoPE frequency factors (Llama 3.1's rope_freqs.weight): the Vulkan backend
// must divide each pair's rotation frequency by its factor exactly as the CPU
// backend does. A fixture model is rewritten with factors 1..4 and both
// backends evaluate it; the plain model shows the factors matter at all.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backends/vulkan/vulkan_backend.h"
#include "engine/error.h"
#include "engine/model/model.h"
#include "tests/fixtures.h"
#include "tests/model/model_variants.h"
#include "tests/vulkan/vk_test_device.h"

namespace halo {
namespace {

constexpr double kRel = 0.02, kAbs = 0.2;  // f16 KV cache bound from the fixtures README

std::vector<float> eval_all(Backend& backend, const Model& model, const std::vector<int32_t>& tokens) {
  std::vector<float> logits;
  backend.attach(model, RunnerOptions{64, 0})->eval(tokens, 0, true, logits);
  return logits;
}

// Number of logits outside the f16 KV bound around `ref`, and the largest gap.
std::pair<size_t, double> outside_bound(const std::vector<float>& mine, const std::vector<float>& ref) {
  size_t n = 0;
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double diff = std::fabs(mine[i] - ref[i]);
    worst = std::max(worst, diff);
    if (diff > kRel * std::fabs(ref[i]) + kAbs) ++n;
  }
  return {n, worst};
}

TEST(VulkanRope, FrequencyFactorsMatchTheCpuBackend) {
  std::unique_ptr<Backend> vulkan;
  try {
    vulkan = make_vulkan_backend();
  } catch (const Error& e) {
    test::gpu_error() = e.what();
  }
  HALO_REQUIRE_VULKAN(vulkan);
  const std::string src = test::fixture("models/llama-spm-q4_k_m.gguf");
  auto plain = Model::load(src);
  const uint32_t pairs = plain->hparams().rope_dim / 2;
  test::TempDir dir;
  test::ModelEdit edit;
  std::vector<float> factors(pairs);
  for (uint32_t i = 0; i < pairs; ++i) factors[i] = 1.0f + 3.0f * i / (pairs - 1);  // 1..4
  edit.add_f32["rope_freqs.weight"] = factors;
  test::write_variant(src, dir.file("freqs.gguf"), edit);
  auto scaled = Model::load(dir.file("freqs.gguf"));
  ASSERT_NE(scaled->weights().rope_freqs, nullptr);

  // Long enough that late positions rotate far apart with and without factors.
  std::vector<int32_t> tokens = {1, 450, 4996, 17354, 1701};
  for (int i = 0; i < 27; ++i) tokens.push_back(100 + 37 * i);
  auto cpu = create_backend("cpu");
  const std::vector<float> cpu_scaled = eval_all(*cpu, *scaled, tokens);
  const std::vector<float> cpu_plain = eval_all(*cpu, *plain, tokens);
  const std::vector<float> vk_scaled = eval_all(*vulkan, *scaled, tokens);
  ASSERT_EQ(vk_scaled.size(), cpu_scaled.size());

  auto [bad, worst] = outside_bound(vk_scaled, cpu_scaled);
  EXPECT_EQ(bad, 0u) << "largest |vulkan - cpu| = " << worst;
  auto [differ, gap] = outside_bound(cpu_plain, cpu_scaled);
  EXPECT_GT(differ, 0u) << "the factors change the CPU logits by at most " << gap << ": the test shows nothing";
  std::printf("rope_freqs: |vulkan - cpu| <= %.5f; factors move CPU logits by up to %.3f\n", worst, gap);
}

}  // namespace
}  // namespace halo
