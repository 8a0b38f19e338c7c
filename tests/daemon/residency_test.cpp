// Residency: the pool budget (from the fake TTM tree), LRU eviction of idle
// unpinned models, NoMemory with amounts, keep_alive expiry.
#include "tests/daemon/halod_fixture.h"

namespace halod::test {
namespace {

using namespace std::chrono_literals;

// Each of these files is about 13 MB; their weights take about 12 MiB of
// pool. The CPU backend's KV cache adds 2 KiB per token of context (2 layers,
// keys and values, 128 f32 each) and its scratch up to 6 MiB (512 tokens).
// With the small budgets' context_length of 64 a model takes about 12.6 MiB.
constexpr const char* kLlama = "llama-spm-q4_k_m.gguf";
constexpr const char* kQwen2 = "qwen2-spm-q4_0.gguf";
constexpr const char* kNoMemory = "org.halod.Halod1.Error.NoMemory";

DaemonOptions options_with_budget_mib(uint64_t mib) {
  DaemonOptions o;
  o.budget_mib = mib;
  o.extra_toml = "context_length = 64\n";
  return o;
}

VariantMap with_context(uint32_t tokens) { return {{"context_length", sdbus::Variant(tokens)}}; }

DaemonOptions options_with_keep_alive(int seconds) {
  DaemonOptions o;
  o.keep_alive = seconds;
  return o;
}

class SmallBudget : public HalodTest {
 protected:
  void SetUp() override {
    start(options_with_budget_mib(20));  // room for one of the fixture models, not two
  }
  bool loaded(const std::string& path) {
    for (auto& p : manager_->ListModels())
      if (p == path) return true;
    return false;
  }
};

TEST_F(SmallBudget, TakesItsBudgetFromTheTtmLimits) {
  EXPECT_EQ(manager_->PoolBudget(), 20u << 20);
  EXPECT_EQ(manager_->TtmPagesLimit(), 20u * 256);
  EXPECT_EQ(manager_->TtmPagePoolSize(), 20u * 256);
}

TEST_F(SmallBudget, EvictsTheIdleModelToMakeRoom) {
  std::string first = load(kLlama);
  std::string second = load(kQwen2);
  EXPECT_FALSE(loaded(first));
  EXPECT_TRUE(loaded(second));
  EXPECT_LE(manager_->PoolUsed(), manager_->PoolBudget());
  EXPECT_NE(halod_log().find("evicted to make room"), std::string::npos);
}

TEST_F(SmallBudget, EvictsTheLeastRecentlyUsedFirst) {
  // Budget for two: use the first after loading the second; a third evicts the second.
  start(options_with_budget_mib(34));
  std::string a = load(kLlama);
  std::string b = load(kQwen2);
  ModelProxy(*bus_, a).GenerateText("touch", {{"max_tokens", sdbus::Variant(uint32_t{1})}});
  std::string c = load(kLlama);
  EXPECT_TRUE(loaded(a));
  EXPECT_FALSE(loaded(b));
  EXPECT_TRUE(loaded(c));
}

TEST_F(SmallBudget, FailsWithNoMemoryWhenEveryModelIsPinned) {
  std::string pinned = load(kLlama, {{"pinned", sdbus::Variant(true)}});
  EXPECT_TRUE(ModelProxy(*bus_, pinned).Pinned());
  try {
    load(kQwen2);
    FAIL() << "a second model fitted beside a pinned one in a 20 MiB budget";
  } catch (const sdbus::Error& e) {
    EXPECT_EQ(e.getName(), kNoMemory);
    // The message says how much is needed and how much is free.
    EXPECT_NE(e.getMessage().find("needs 13 MiB"), std::string::npos) << e.getMessage();
    EXPECT_NE(e.getMessage().find("free"), std::string::npos) << e.getMessage();
  }
  EXPECT_TRUE(loaded(pinned));
  EXPECT_EQ(manager_->ListModels().size(), 1u);
}

TEST_F(SmallBudget, FailsWithNoMemoryWhenTheOtherModelIsBusy) {
  std::string busy = load(kLlama);
  auto [request, stream] = ModelProxy(*bus_, busy).Generate("long", {{"max_tokens", sdbus::Variant(uint32_t{900})}});
  StreamReader reader(stream.get());
  reader.read(1);
  EXPECT_EQ(error_name_of([&] { load(kQwen2); }), kNoMemory);
  RequestProxy(*bus_, request).Cancel();
  EXPECT_EQ(reader.read(SIZE_MAX, 20s).reason(), "cancelled");
}

TEST_F(SmallBudget, FailsWithNoMemoryWhenAModelIsLargerThanTheWholeBudget) {
  start(options_with_budget_mib(8));
  try {
    load(kLlama);
    FAIL();
  } catch (const sdbus::Error& e) {
    EXPECT_EQ(e.getName(), kNoMemory);
    EXPECT_NE(e.getMessage().find("whole pool budget is 8 MiB"), std::string::npos) << e.getMessage();
  }
  EXPECT_TRUE(manager_->ListModels().empty());
  EXPECT_EQ(manager_->PoolUsed(), 0u);
}

TEST_F(SmallBudget, RefusesAModelWhoseKvCacheDoesNotFitTheBudget) {
  // 13 MiB of weights fit 20 MiB; with 16 MiB of KV cache (8192 tokens) they do not.
  try {
    load(kLlama, with_context(8192));
    FAIL() << "loaded with a KV cache larger than the budget left";
  } catch (const sdbus::Error& e) {
    EXPECT_EQ(e.getName(), kNoMemory);
    EXPECT_NE(e.getMessage().find("needs 29 MiB (13 MiB of weights and 16 MiB of KV cache for 8192 tokens)"),
              std::string::npos) << e.getMessage();
    EXPECT_NE(e.getMessage().find("whole pool budget is 20 MiB"), std::string::npos) << e.getMessage();
    EXPECT_NE(e.getMessage().find("context_length"), std::string::npos) << e.getMessage();
  }
  EXPECT_TRUE(manager_->ListModels().empty());
  EXPECT_EQ(manager_->PoolUsed(), 0u);
}

TEST_F(SmallBudget, RefusesAKvCacheThatDoesNotFitBesideAPinnedModel) {
  start(options_with_budget_mib(34));
  std::string pinned = load(kLlama, {{"pinned", sdbus::Variant(true)}});
  const uint64_t pinned_size = ModelProxy(*bus_, pinned).SizeBytes();
  // About 21 MiB are free: enough for the weights, not with 12 MiB of KV cache.
  try {
    load(kQwen2, with_context(6144));
    FAIL() << "loaded with a KV cache larger than the free pool";
  } catch (const sdbus::Error& e) {
    EXPECT_EQ(e.getName(), kNoMemory);
    EXPECT_NE(e.getMessage().find("needs 25 MiB"), std::string::npos) << e.getMessage();
    EXPECT_NE(e.getMessage().find("12 MiB of KV cache for 6144 tokens"), std::string::npos) << e.getMessage();
    EXPECT_NE(e.getMessage().find("only 22 MiB of the 34 MiB pool are free"), std::string::npos) << e.getMessage();
  }
  EXPECT_EQ(manager_->ListModels(), std::vector<sdbus::ObjectPath>{pinned});
  EXPECT_EQ(manager_->PoolUsed(), pinned_size);  // the refused load's reservation is given back
}

TEST_F(SmallBudget, ChecksTheRealFootprintAfterAttaching) {
  start(options_with_budget_mib(34));
  std::string pinned = load(kLlama, {{"pinned", sdbus::Variant(true)}});
  const uint64_t pinned_size = ModelProxy(*bus_, pinned).SizeBytes();
  // Weights and 8 MiB of KV cache fit the 21 MiB free; with 6 MiB of scratch they do not.
  try {
    load(kQwen2, with_context(4096));
    FAIL() << "loaded although the attached runner does not fit";
  } catch (const sdbus::Error& e) {
    EXPECT_EQ(e.getName(), kNoMemory);
    EXPECT_NE(e.getMessage().find("once attached"), std::string::npos) << e.getMessage();
  }
  EXPECT_EQ(manager_->ListModels(), std::vector<sdbus::ObjectPath>{pinned});
  EXPECT_EQ(manager_->PoolUsed(), pinned_size);
}

TEST_F(SmallBudget, EvictionFreesTheWholeFootprint) {
  start(options_with_budget_mib(34));
  std::string big = load(kLlama, with_context(4096));
  const uint64_t big_size = ModelProxy(*bus_, big).SizeBytes();
  EXPECT_GE(big_size, (12u << 20) + (8u << 20));  // weights and the KV cache of 4096 tokens
  EXPECT_EQ(manager_->PoolUsed(), big_size);
  // Weights alone (12 MiB) would leave room for a second model; the KV cache does not.
  std::string small = load(kQwen2);
  EXPECT_FALSE(loaded(big));
  EXPECT_TRUE(loaded(small));
  EXPECT_EQ(manager_->PoolUsed(), ModelProxy(*bus_, small).SizeBytes());
  EXPECT_NE(halod_log().find("evicted to make room"), std::string::npos);
}

using Footprint = HalodTest;

TEST_F(Footprint, SizeBytesAndPoolUsedCountTheKvCache) {
  ModelProxy short_ctx(*bus_, load(kLlama, with_context(64)));
  ModelProxy long_ctx(*bus_, load(kLlama, with_context(4096)));
  EXPECT_EQ(short_ctx.ContextLength(), 64u);
  EXPECT_EQ(long_ctx.ContextLength(), 4096u);
  // (4096 - 64) tokens x 2 layers x keys and values x 128 f32.
  const uint64_t kv_difference = uint64_t{4096 - 64} * 2 * 2 * 128 * 4;
  EXPECT_GE(long_ctx.SizeBytes() - short_ctx.SizeBytes(), kv_difference);
  EXPECT_EQ(manager_->PoolUsed(), short_ctx.SizeBytes() + long_ctx.SizeBytes());
}

using KeepAlive = HalodTest;

TEST_F(KeepAlive, UnloadsAnIdleModelWhenItExpires) {
  std::string path = load(kLlama, {{"keep_alive", sdbus::Variant(int32_t{2})}});
  EXPECT_EQ(ModelProxy(*bus_, path).KeepAlive(), 2);
  EXPECT_EQ(manager_->ListModels().size(), 1u);
  EXPECT_TRUE(eventually([&] { return manager_->ListModels().empty(); }, 10s)) << halod_log();
  EXPECT_NE(halod_log().find("keep_alive expired"), std::string::npos);
}

TEST_F(KeepAlive, CountsFromTheLastRequest) {
  std::string path = load(kLlama, {{"keep_alive", sdbus::Variant(int32_t{3})}});
  ModelProxy model(*bus_, path);
  std::this_thread::sleep_for(1000ms);
  model.GenerateText("again", {{"max_tokens", sdbus::Variant(uint32_t{1})}});
  std::this_thread::sleep_for(2500ms);  // 3.5 s after the load, 2.5 s after the request
  EXPECT_EQ(manager_->ListModels().size(), 1u);
  EXPECT_TRUE(eventually([&] { return manager_->ListModels().empty(); }, 10s));
}

TEST_F(KeepAlive, ZeroUnloadsAfterEachRequest) {
  std::string path = load(kLlama, {{"keep_alive", sdbus::Variant(int32_t{0})}});
  EXPECT_EQ(manager_->ListModels().size(), 1u);
  auto [text, stats] = ModelProxy(*bus_, path).GenerateText("once", {{"max_tokens", sdbus::Variant(uint32_t{2})}});
  EXPECT_EQ(stats.at("generated_tokens").get<uint32_t>(), 2u);
  EXPECT_TRUE(eventually([&] { return manager_->ListModels().empty(); }, 5s));
}

TEST_F(KeepAlive, MinusOneKeepsItForever) {
  start(options_with_keep_alive(1));
  std::string forever = load(kLlama, {{"keep_alive", sdbus::Variant(int32_t{-1})}});
  std::string brief = load(kQwen2);  // the configured default: 1 s
  EXPECT_TRUE(eventually([&] { return manager_->ListModels().size() == 1; }, 10s));
  EXPECT_EQ(manager_->ListModels(), std::vector<sdbus::ObjectPath>{forever});
}

}  // namespace
}  // namespace halod::test
