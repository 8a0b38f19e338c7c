// The CPU backend's Runner contract (argument errors, rewinding, KV reuse)
// and the backend registry.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/backend/backend.h"
#include "engine/error.h"
#include "engine/model/model.h"
#include "tests/fixtures.h"

namespace halo {
namespace {

class CpuRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = Model::load(test::fixture("models/qwen2-spm-q4_0.gguf"));
    backend_ = create_backend("cpu");
    runner_ = backend_->attach(*model_, RunnerOptions{32, 2});
  }
  ErrorKind eval_error(std::vector<int32_t> tokens, uint32_t n_past) {
    std::vector<float> logits;
    try {
      runner_->eval(tokens, n_past, false, logits);
    } catch (const Error& e) {
      return e.kind();
    }
    ADD_FAILURE() << "eval did not fail";
    return ErrorKind::Device;
  }
  std::unique_ptr<Model> model_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Runner> runner_;
};

TEST_F(CpuRunnerTest, ReportsContextAndMemory) {
  EXPECT_EQ(runner_->n_ctx(), 32u);
  // Two layers of K and V: 32 positions × 2 KV heads × 64 floats each.
  EXPECT_GE(runner_->memory_bytes(), uint64_t{2} * 2 * 32 * 128 * sizeof(float));
  EXPECT_EQ(backend_->attach(*model_, {})->n_ctx(), 1024u) << "defaults to the training context up to 4096";
}

TEST_F(CpuRunnerTest, RejectsBadArguments) {
  EXPECT_EQ(eval_error({}, 0), ErrorKind::InvalidArgument);
  EXPECT_EQ(eval_error({1, 32000}, 0), ErrorKind::InvalidArgument);
  EXPECT_EQ(eval_error({1, -5}, 0), ErrorKind::InvalidArgument);
  EXPECT_EQ(eval_error(std::vector<int32_t>(33, 1), 0), ErrorKind::InvalidArgument);
  EXPECT_EQ(eval_error({1}, 3), ErrorKind::InvalidArgument) << "n_past beyond what is cached";
  std::vector<float> logits;
  runner_->eval(std::vector<int32_t>(30, 7), 0, false, logits);
  EXPECT_EQ(eval_error({1, 2, 3}, 30), ErrorKind::InvalidArgument) << "past the end of the context";
  EXPECT_NO_THROW(runner_->eval({std::vector<int32_t>{1, 2}}, 30, false, logits));
}

TEST_F(CpuRunnerTest, RewindingRecomputesFromTheKeptPrefix) {
  std::vector<float> first, again, other;
  const std::vector<int32_t> prompt = {1, 450, 4996, 17354};
  runner_->eval(prompt, 0, false, first);
  runner_->eval(std::vector<int32_t>{99, 100, 101}, 4, false, other);  // grows the cache past the prompt
  runner_->eval(std::span<const int32_t>(prompt).subspan(3), 3, false, again);  // rewinds to 3, re-feeds the last
  ASSERT_EQ(first.size(), again.size());
  for (size_t i = 0; i < first.size(); ++i) ASSERT_NEAR(first[i], again[i], 1e-4f * (1 + std::fabs(first[i]))) << i;
}

// Inputs longer than one internal batch (512 tokens) run in chunks; the
// result equals feeding the same tokens in two calls.
TEST(CpuRunnerLong, ChunkedBatchesMatchSplitCalls) {
  auto model = Model::load(test::fixture("models/qwen3-spm-q8_0.gguf"));
  auto backend = create_backend("cpu");
  auto runner = backend->attach(*model, RunnerOptions{700, 2});
  std::vector<int32_t> tokens(600);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(1 + (i * 7919) % 31000);
  std::vector<float> whole, first, second;
  runner->eval(tokens, 0, true, whole);
  runner->eval(std::span<const int32_t>(tokens).first(300), 0, true, first);
  runner->eval(std::span<const int32_t>(tokens).subspan(300), 300, true, second);
  first.insert(first.end(), second.begin(), second.end());
  ASSERT_EQ(whole.size(), first.size());
  for (size_t i = 0; i < whole.size(); ++i) ASSERT_NEAR(whole[i], first[i], 1e-3f * (1 + std::fabs(whole[i]))) << i;
}

TEST(BackendRegistry, ListsTheCpuAndAutoPicksTheFirst) {
  auto list = list_backends();
  auto cpu = std::find_if(list.begin(), list.end(), [](const BackendInfo& b) { return b.name == "cpu"; });
  ASSERT_NE(cpu, list.end());
  EXPECT_FALSE(cpu->device.empty());
  EXPECT_EQ(create_backend("cpu")->name(), "cpu");
  EXPECT_EQ(create_backend("cpu")->device_name(), cpu->device);
  // Software Vulkan drivers (lavapipe) rank after the CPU backend.
  for (auto it = cpu + 1; it != list.end(); ++it) EXPECT_NE(it->device.find("llvmpipe"), std::string::npos) << it->device;
  EXPECT_EQ(create_backend("auto")->name(), list.front().name);
}

TEST(BackendRegistry, UnknownNameIsAClearError) {
  try {
    create_backend("tpu");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("'tpu'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace halo
