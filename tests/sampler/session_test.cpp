// Session::generate with a scripted fake Runner and the real SentencePiece
// vocabulary of the llama-spm fixture: streaming, stop strings split across
// tokens, end-of-generation tokens, max tokens, context end, cancellation and
// prompt batching.
#include "engine/session/session.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/fixtures.h"

namespace halo {
namespace {

// Makes greedy sampling pick script[i] for the i-th generated token, and
// checks that the session evaluates positions in order within n_ctx.
class ScriptedRunner : public Runner {
 public:
  ScriptedRunner(uint32_t n_vocab, uint32_t n_ctx, size_t prompt_len, std::vector<int32_t> script)
      : n_vocab_(n_vocab), n_ctx_(n_ctx), prompt_len_(prompt_len), script_(std::move(script)) {}

  void eval(std::span<const int32_t> tokens, uint32_t n_past, bool all_logits,
            std::vector<float>& logits) override {
    EXPECT_FALSE(all_logits);
    EXPECT_EQ(n_past, evaluated_) << "positions must be evaluated in order";
    if (n_past + tokens.size() > n_ctx_) throw Error(ErrorKind::InvalidArgument, "past n_ctx");
    batch_sizes.push_back(tokens.size());
    evaluated_ = n_past + static_cast<uint32_t>(tokens.size());
    logits.assign(n_vocab_, 0.0f);
    size_t step = evaluated_ - prompt_len_;
    logits[step < script_.size() ? script_[step] : kFiller] = 10.0f;
  }
  uint32_t n_ctx() const override { return n_ctx_; }
  uint64_t memory_bytes() const override { return 0; }

  static constexpr int32_t kFiller = 450;  // "▁The"
  std::vector<size_t> batch_sizes;

 private:
  uint32_t n_vocab_, n_ctx_;
  size_t prompt_len_;
  std::vector<int32_t> script_;
  uint32_t evaluated_ = 0;
};

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = gguf::File::open(test::fixture("vocab/llama-spm.gguf"));
    tok_ = Tokenizer::from_gguf(*file_);
    params_.sampling.temperature = 0;  // greedy: the script decides
    params_.max_tokens = 64;
  }
  std::vector<int32_t> words(const std::string& text) const { return tok_->encode(text, false, false); }
  size_t prompt_len(const std::string& prompt) const { return tok_->encode(prompt, true, true).size(); }
  std::string detokenize(const std::vector<int32_t>& ids) const {
    Detokenizer d(*tok_);
    std::string s;
    for (int32_t id : ids) s += d.push(id);
    return s + d.flush();
  }
  // Runs generate and collects the streamed text and callback count.
  GenerateStats run(ScriptedRunner& runner, const std::string& prompt, int cancel_after = -1) {
    Session session(*tok_, runner);
    text_.clear();
    calls_ = 0;
    return session.generate(prompt, params_, [&](std::string_view t, int32_t) {
      text_ += t;
      return ++calls_ != cancel_after;
    });
  }

  std::unique_ptr<gguf::File> file_;
  std::unique_ptr<Tokenizer> tok_;
  GenerateParams params_;
  std::string text_;
  int calls_ = 0;
};

TEST_F(SessionTest, StreamsTheScriptAndStopsAtMaxTokens) {
  std::vector<int32_t> script = words("Paris is a city in France");
  params_.max_tokens = static_cast<uint32_t>(script.size());
  ScriptedRunner runner(tok_->n_vocab(), 256, prompt_len("Hello"), script);
  GenerateStats s = run(runner, "Hello");
  EXPECT_EQ(s.reason, StopReason::Length);
  EXPECT_EQ(stop_reason_name(s.reason), "length");
  EXPECT_EQ(s.generated_tokens, script.size());
  EXPECT_EQ(s.prompt_tokens, prompt_len("Hello"));
  EXPECT_EQ(text_, detokenize(script));
  EXPECT_EQ(calls_, static_cast<int>(script.size()));
}

TEST_F(SessionTest, EndOfGenerationTokenStopsAndIsNotEmitted) {
  std::vector<int32_t> script = words("one two");
  size_t before = script.size();
  script.push_back(tok_->eos());
  script.push_back(ScriptedRunner::kFiller);
  ScriptedRunner runner(tok_->n_vocab(), 256, prompt_len("x"), script);
  GenerateStats s = run(runner, "x");
  EXPECT_EQ(s.reason, StopReason::Stop);
  EXPECT_EQ(s.generated_tokens, before);
  EXPECT_EQ(text_, detokenize(words("one two")));
}

TEST_F(SessionTest, StopStringSplitAcrossTokensIsNotEmitted) {
  std::vector<int32_t> script = words("The capital of France is Paris");
  std::string full = detokenize(script);
  params_.stop = {"France is"};  // spans the tokens of "France" and "is"
  ScriptedRunner runner(tok_->n_vocab(), 256, prompt_len("Q:"), script);
  GenerateStats s = run(runner, "Q:");
  EXPECT_EQ(s.reason, StopReason::Stop);
  ASSERT_NE(full.find("France is"), std::string::npos);
  EXPECT_EQ(text_, full.substr(0, full.find("France is")));
}

TEST_F(SessionTest, HeldBackTextIsReleasedWhenTheStopStringDoesNotComplete) {
  std::vector<int32_t> script = words("The capital of France");
  params_.stop = {"France is"};
  params_.max_tokens = static_cast<uint32_t>(script.size());  // ends while "France" is held
  ScriptedRunner runner(tok_->n_vocab(), 256, prompt_len("Q:"), script);
  GenerateStats s = run(runner, "Q:");
  EXPECT_EQ(s.reason, StopReason::Length);
  EXPECT_EQ(text_, detokenize(script));
}

TEST_F(SessionTest, ContextEndStopsWithReasonLength) {
  size_t p = prompt_len("Hello");
  ScriptedRunner runner(tok_->n_vocab(), static_cast<uint32_t>(p + 3), p, {});
  GenerateStats s = run(runner, "Hello");
  EXPECT_EQ(s.reason, StopReason::Length);
  EXPECT_EQ(s.generated_tokens, 4u);  // three evaluated, the fourth only sampled
}

TEST_F(SessionTest, CallbackReturningFalseCancels) {
  ScriptedRunner runner(tok_->n_vocab(), 256, prompt_len("Hello"), {});
  GenerateStats s = run(runner, "Hello", 3);
  EXPECT_EQ(s.reason, StopReason::Cancelled);
  EXPECT_EQ(s.generated_tokens, 3u);
  EXPECT_EQ(calls_, 3);
}

TEST_F(SessionTest, ZeroMaxTokensOnlyEvaluatesThePrompt) {
  params_.max_tokens = 0;
  ScriptedRunner runner(tok_->n_vocab(), 256, prompt_len("Hello"), {});
  GenerateStats s = run(runner, "Hello");
  EXPECT_EQ(s.reason, StopReason::Length);
  EXPECT_EQ(s.generated_tokens, 0u);
  EXPECT_EQ(runner.batch_sizes.size(), 1u);
}

TEST_F(SessionTest, LongPromptIsEvaluatedInBatches) {
  std::string prompt;
  for (int i = 0; i < 600; ++i) prompt += "hello world ";
  size_t p = prompt_len(prompt);
  ASSERT_GT(p, 2 * Session::kPromptBatch);
  params_.max_tokens = 2;
  ScriptedRunner runner(tok_->n_vocab(), 4096, p, {});
  GenerateStats s = run(runner, prompt);
  EXPECT_EQ(s.prompt_tokens, p);
  ASSERT_EQ(runner.batch_sizes.size(), 3u + 1u);  // three prompt batches, one decode
  EXPECT_EQ(runner.batch_sizes[0], Session::kPromptBatch);
  EXPECT_EQ(runner.batch_sizes[1], Session::kPromptBatch);
  EXPECT_EQ(runner.batch_sizes[3], 1u);
}

TEST_F(SessionTest, PromptLongerThanTheContextIsRejected) {
  ScriptedRunner runner(tok_->n_vocab(), 4, 0, {});
  try {
    run(runner, "a prompt that is certainly longer than four tokens");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("context"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(runner.batch_sizes.empty());
}

TEST_F(SessionTest, LogitsPastTheVocabularyAreNeverSampled) {
  // A runner whose output has padding rows: the padding wins greedy but is
  // not a token of the vocabulary.
  class PaddedRunner : public ScriptedRunner {
   public:
    using ScriptedRunner::ScriptedRunner;
    void eval(std::span<const int32_t> tokens, uint32_t n_past, bool all,
              std::vector<float>& logits) override {
      ScriptedRunner::eval(tokens, n_past, all, logits);
      logits.resize(logits.size() + 64, 100.0f);
    }
  };
  params_.max_tokens = 2;
  PaddedRunner runner(tok_->n_vocab(), 64, prompt_len("Hi"), {});
  std::vector<int32_t> got;
  Session session(*tok_, runner);
  session.generate("Hi", params_, [&](std::string_view, int32_t t) {
    got.push_back(t);
    return true;
  });
  EXPECT_EQ(got, (std::vector<int32_t>{ScriptedRunner::kFiller, ScriptedRunner::kFiller}));
}

TEST_F(SessionTest, WorksWithoutACallback) {
  params_.max_tokens = 3;
  ScriptedRunner runner(tok_->n_vocab(), 64, prompt_len("Hi"), {});
  Session session(*tok_, runner);
  GenerateStats s = session.generate("Hi", params_, {});
  EXPECT_EQ(s.generated_tokens, 3u);
  EXPECT_EQ(s.reason, StopReason::Length);
}

TEST_F(SessionTest, EmptyPromptWithoutBosIsRejected) {
  params_.add_bos = false;
  ScriptedRunner runner(tok_->n_vocab(), 64, 0, {});
  EXPECT_THROW(run(runner, ""), Error);
}

TEST_F(SessionTest, PenaltiesCoverThePrompt) {
  // The runner's favourite (the filler token, logit 10, all others 0) is in
  // the prompt; a presence penalty of 20 makes greedy pick something else.
  params_.sampling.presence_penalty = 20.0f;
  params_.max_tokens = 1;
  std::string prompt = "The";
  ASSERT_EQ(words(prompt), std::vector<int32_t>{ScriptedRunner::kFiller});
  ScriptedRunner runner(tok_->n_vocab(), 64, prompt_len(prompt), {});
  int32_t chosen = -1;
  Session session(*tok_, runner);
  session.generate(prompt, params_, [&](std::string_view, int32_t t) {
    chosen = t;
    return true;
  });
  EXPECT_NE(chosen, ScriptedRunner::kFiller);
}

}  // namespace
}  // namespace halo
