// engine/backend/runner_memory.h against the runners: the KV cache size halod
// reserves before attaching must be what each backend's runner allocates.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/runner_memory.h"
#include "engine/model/model.h"
#include "tests/fixtures.h"

namespace halo {
namespace {

const char* const kModels[] = {"llama-spm-q4_k_m.gguf", "qwen2-spm-q4_0.gguf", "qwen3-spm-q8_0.gguf"};

TEST(RunnerMemory, ReadsTheHyperparametersFromTheHeader) {
  for (const char* name : kModels) {
    const std::string path = test::fixture(std::string("models/") + name);
    auto model = Model::load(path);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << path;
    const HParams hp = read_hparams_fd(fd, path);
    close(fd);
    EXPECT_EQ(hp.n_layer, model->hparams().n_layer) << name;
    EXPECT_EQ(hp.n_head_kv, model->hparams().n_head_kv) << name;
    EXPECT_EQ(hp.head_dim, model->hparams().head_dim) << name;
    EXPECT_EQ(hp.n_ctx_train, model->hparams().n_ctx_train) << name;
  }
}

TEST(RunnerMemory, KvCacheFormula) {
  HParams hp;
  hp.n_layer = 32, hp.n_head_kv = 8, hp.head_dim = 128;
  EXPECT_EQ(kv_cache_bytes(hp, 4096, 2), uint64_t{32} * 2 * 4096 * 8 * 128 * 2);  // 512 MiB
  hp.n_ctx_train = 131072;
  EXPECT_EQ(default_context_length(hp), 4096u);
  hp.n_ctx_train = 1024;
  EXPECT_EQ(default_context_length(hp), 1024u);
  hp.n_ctx_train = 0;
  EXPECT_EQ(default_context_length(hp), 4096u);
  EXPECT_EQ(kv_element_bytes("cpu"), 4u);
  EXPECT_EQ(kv_element_bytes("vulkan"), 2u);
}

// Every usable backend (the Vulkan one too where a device exists, lavapipe
// included): the default context is default_context_length(), and growing
// the context grows the runner by at least the KV cache the formula gives
// (the CPU runner by exactly that: nothing else of it depends on n_ctx).
TEST(RunnerMemory, MatchesWhatEachBackendAllocates) {
  auto model = Model::load(test::fixture("models/qwen2-spm-q4_0.gguf"));
  const HParams& hp = model->hparams();
  for (const BackendInfo& info : list_backends()) {
    SCOPED_TRACE(info.name);
    auto backend = create_backend(info.name);
    EXPECT_EQ(backend->attach(*model, {})->n_ctx(), default_context_length(hp));
    const uint32_t bytes = kv_element_bytes(info.name);
    auto small = backend->attach(*model, RunnerOptions{1024, 2});
    auto large = backend->attach(*model, RunnerOptions{2048, 2});
    EXPECT_GE(small->memory_bytes(), kv_cache_bytes(hp, 1024, bytes));
    const uint64_t growth = large->memory_bytes() - small->memory_bytes();
    const uint64_t kv_growth = kv_cache_bytes(hp, 2048, bytes) - kv_cache_bytes(hp, 1024, bytes);
    if (info.name == "cpu")
      EXPECT_EQ(growth, kv_growth);
    else
      EXPECT_GE(growth, kv_growth);
  }
}

TEST(RunnerMemory, TheCpuRunnerDoesNotGrowWhenItRuns) {
  // halod counts memory_bytes() right after attaching: scratch is in it already.
  auto model = Model::load(test::fixture("models/qwen2-spm-q4_0.gguf"));
  auto runner = create_backend("cpu")->attach(*model, RunnerOptions{1024, 2});
  const uint64_t before = runner->memory_bytes();
  std::vector<float> logits;
  runner->eval(std::vector<int32_t>(600, 7), 0, false, logits);
  EXPECT_EQ(runner->memory_bytes(), before);
}

}  // namespace
}  // namespace halo
