// The prompt cache: a Session given the runner's KvHistory evaluates only
// the part of a prompt after what the KV cache already holds, and its
// answers are those of evaluating the whole prompt.
#include <gtest/gtest.h>

#include "engine/backend/backend.h"
#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/session/session.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/fixtures.h"

namespace halo {
namespace {

// Records what it is asked to evaluate; always favours token `next`.
class RecordingRunner : public Runner {
 public:
  void eval(std::span<const int32_t> tokens, uint32_t n_past, bool, std::vector<float>& logits) override {
    if (fail_next) {
      fail_next = false;
      throw Error(ErrorKind::Device, "device lost");
    }
    calls.push_back({n_past, tokens.size()});
    logits.assign(kVocab, 0.0f);
    logits[kNext] = 1.0f;
  }
  uint32_t n_ctx() const override { return 4096; }
  uint64_t memory_bytes() const override { return 0; }

  static constexpr uint32_t kVocab = 32000;
  static constexpr int32_t kNext = 450;
  struct Call {
    uint32_t n_past;
    size_t n_tokens;
    bool operator==(const Call&) const = default;
  };
  std::vector<Call> calls;
  bool fail_next = false;
};

class PromptCache : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = gguf::File::open(test::fixture("vocab/llama-spm.gguf"));
    tok_ = Tokenizer::from_gguf(*file_);
    params_.sampling.temperature = 0;
    params_.max_tokens = 3;
  }
  GenerateStats run(const std::vector<int32_t>& prompt) {
    runner_.calls.clear();
    Session session(*tok_, runner_, &history_);
    return session.generate(prompt, params_, {});
  }

  std::unique_ptr<gguf::File> file_;
  std::unique_ptr<Tokenizer> tok_;
  RecordingRunner runner_;
  KvHistory history_;
  GenerateParams params_;
  const std::vector<int32_t> first_ = {1, 100, 101, 102, 103};
};

TEST_F(PromptCache, EvaluatesTheWholeFirstPromptAndRemembersWhatItEvaluated) {
  const GenerateStats s = run(first_);
  EXPECT_EQ(s.cached_tokens, 0u);
  using Call = RecordingRunner::Call;
  EXPECT_EQ(runner_.calls, (std::vector<Call>{{0, 5}, {5, 1}, {6, 1}}));
  // The prompt and the generated tokens evaluated; the last one sampled never was.
  EXPECT_EQ(history_.tokens, (std::vector<int32_t>{1, 100, 101, 102, 103, 450, 450}));
}

TEST_F(PromptCache, EvaluatesOnlyWhatFollowsTheCachedBeginning) {
  run(first_);
  const GenerateStats s = run({1, 100, 101, 102, 103, 450, 450, 450, 200, 201});
  EXPECT_EQ(s.prompt_tokens, 10u);
  EXPECT_EQ(s.cached_tokens, 7u);
  EXPECT_EQ(runner_.calls.front(), (RecordingRunner::Call{7, 3}));
}

TEST_F(PromptCache, RewindsToWhereAPromptDivergesFromTheCache) {
  run(first_);
  const GenerateStats s = run({1, 100, 999, 102});
  EXPECT_EQ(s.cached_tokens, 2u);
  EXPECT_EQ(runner_.calls.front(), (RecordingRunner::Call{2, 2}));
}

TEST_F(PromptCache, EvaluatesAtLeastTheLastTokenOfARepeatedPrompt) {
  run(first_);
  const GenerateStats s = run(first_);
  EXPECT_EQ(s.cached_tokens, 4u);
  EXPECT_EQ(runner_.calls.front(), (RecordingRunner::Call{4, 1}));
}

TEST_F(PromptCache, TrustsNothingAFailedEvaluationLeft) {
  run(first_);
  runner_.fail_next = true;
  EXPECT_THROW(run({1, 100, 101, 102, 103, 450, 450, 7, 8}), Error);
  EXPECT_EQ(history_.tokens.size(), 7u);  // the failed batch is not remembered
  const GenerateStats s = run({1, 100, 101, 102, 103, 450, 450, 7, 8});
  EXPECT_EQ(s.cached_tokens, 7u);
}

TEST_F(PromptCache, IsNotUsedWithoutAHistory) {
  run(first_);
  runner_.calls.clear();
  Session session(*tok_, runner_);
  EXPECT_EQ(session.generate(first_, params_, {}).cached_tokens, 0u);
  EXPECT_EQ(runner_.calls.front(), (RecordingRunner::Call{0, 5}));
}

TEST(APromptCacheOnTheCpuBackend, GivesTheAnswerOfTheWholePrompt) {
  auto model = Model::load(test::fixture("models/llama-spm-q4_k_m.gguf"));
  auto backend = create_backend("cpu");
  RunnerOptions ro;
  ro.n_ctx = 256;
  ro.n_threads = 2;
  auto runner = backend->attach(*model, ro);
  GenerateParams p;
  p.sampling.temperature = 0;
  p.max_tokens = 12;
  KvHistory history;
  std::string first_text, cached_text, whole_text;
  Session cached(*model, *runner, &history);
  cached.generate("The capital of France is", p, [&](std::string_view t, int32_t) { first_text += t; return true; });
  const std::string second = "The capital of France is" + first_text + " and the capital of Spain is";
  const GenerateStats s =
      cached.generate(second, p, [&](std::string_view t, int32_t) { cached_text += t; return true; });
  EXPECT_GT(s.cached_tokens, 5u);
  Session whole(*model, *runner);
  whole.generate(second, p, [&](std::string_view t, int32_t) { whole_text += t; return true; });
  EXPECT_EQ(cached_text, whole_text);
}

}  // namespace
}  // namespace halo
