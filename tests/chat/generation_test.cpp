// Answering a chat turn with a scripted fake runner over real vocabularies:
// the answer ends on the template's end-of-turn token even where the
// vocabulary does not take it for an end, an end marker the vocabulary lacks
// ends it as text, and a harmony answer is split into reasoning and final
// text, without its channel headers.
#include <gtest/gtest.h>

#include "engine/backend/backend.h"
#include "engine/chat/turn.h"
#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/chat/model_copy.h"
#include "tests/fixtures.h"
#include "tests/temp_dir.h"

namespace halo::chat {
namespace {

// Greedy sampling picks script[i] after the i-th evaluation (the prompt is the first).
class ScriptedRunner : public Runner {
 public:
  ScriptedRunner(uint32_t n_vocab, std::vector<int32_t> script) : n_vocab_(n_vocab), script_(std::move(script)) {}
  void eval(std::span<const int32_t>, uint32_t, bool, std::vector<float>& logits) override {
    logits.assign(n_vocab_, 0.0f);
    logits[step_ < script_.size() ? script_[step_] : 0] = 10.0f;
    ++step_;
  }
  uint32_t n_ctx() const override { return 4096; }
  uint64_t memory_bytes() const override { return 0; }

 private:
  uint32_t n_vocab_;
  std::vector<int32_t> script_;
  size_t step_ = 0;
};

class ChatGeneration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    test::copy_gguf(test::fixture("models/llama3-bpe-q4_k_m.gguf"), dir_->file("markers.gguf"), "",
                    test::harmony_and_glm_markers());
  }
  static void TearDownTestSuite() { delete dir_; }

  void use(const std::string& path) {
    file_ = gguf::File::open(path);
    tok_ = Tokenizer::from_gguf(*file_);
    params_.sampling.temperature = 0;
    params_.max_tokens = 64;
  }
  void use_markers() { use(dir_->file("markers.gguf")); }

  int32_t marker(std::string_view text) const {
    auto ids = tok_->encode(text, false, true);
    EXPECT_EQ(ids.size(), 1u) << text;
    return ids.at(0);
  }
  // Appends the plain-text tokens of text, or a marker's token.
  std::vector<int32_t>& then(std::vector<int32_t>& script, std::string_view text, bool is_marker = false) const {
    if (is_marker) {
      script.push_back(marker(text));
    } else {
      for (int32_t id : tok_->encode(text, false, false)) script.push_back(id);
    }
    return script;
  }

  GenerateStats answer(const char* family, const std::vector<int32_t>& script) {
    const Template t = Template::named(family);
    const Turn turn = prepare_turn(t, t.render({{"user", "Hi"}}, render_options(*tok_)), *tok_);
    ScriptedRunner runner(tok_->n_vocab(), script);
    Session session(*tok_, runner);
    text_.clear();
    reasoning_.clear();
    return generate_turn(
        session, *tok_, turn, params_,
        [&](std::string_view s, int32_t) { text_ += s; return true; },
        [&](std::string_view s, int32_t) { reasoning_ += s; return ++reasoning_calls_ != cancel_after_reasoning_; });
  }

  static test::TempDir* dir_;
  std::unique_ptr<gguf::File> file_;
  std::unique_ptr<Tokenizer> tok_;
  GenerateParams params_;
  std::string text_, reasoning_;
  int reasoning_calls_ = 0, cancel_after_reasoning_ = -1;
};
test::TempDir* ChatGeneration::dir_ = nullptr;

TEST_F(ChatGeneration, EndsOnTheTemplatesEndOfTurnTokenThatTheVocabularyDoesNotEndOn) {
  use_markers();
  ASSERT_FALSE(tok_->is_eog(marker("<|user|>")));  // GLM-4 closes its answers by opening the next question
  std::vector<int32_t> script;
  then(script, "Hi there.");
  then(script, "<|user|>", true);
  then(script, " more");
  const GenerateStats stats = answer("glm4", script);
  EXPECT_EQ(text_, "Hi there.");
  EXPECT_EQ(stats.reason, StopReason::Stop);
}

TEST_F(ChatGeneration, EndsBeforeAnEndMarkerTheVocabularySpellsAsText) {
  use(test::fixture("vocab/llama-spm.gguf"));
  std::vector<int32_t> script;
  then(script, "Sure.<|im_end|> and more");
  const GenerateStats stats = answer("chatml", script);
  EXPECT_EQ(text_, " Sure.");  // SentencePiece spelled it with a leading space
  EXPECT_EQ(stats.reason, StopReason::Stop);
}

TEST_F(ChatGeneration, SplitsAHarmonyAnswerIntoReasoningAndFinalText) {
  use_markers();
  std::vector<int32_t> script;
  then(script, "<|channel|>", true);
  then(script, "analysis");
  then(script, "<|message|>", true);
  then(script, "The user greets; I think a greeting back fits.");
  then(script, "<|end|>", true);
  then(script, "<|start|>", true);
  then(script, "assistant");
  then(script, "<|channel|>", true);
  then(script, "final");
  then(script, "<|message|>", true);
  then(script, "Hello! I think so.");
  then(script, "<|return|>", true);
  then(script, "never");
  params_.stop = {"so."};  // stop strings apply to the answer, not to the reasoning
  const GenerateStats stats = answer("harmony", script);
  EXPECT_EQ(reasoning_, "The user greets; I think a greeting back fits.");
  EXPECT_EQ(text_, "Hello! I think ");
  EXPECT_EQ(stats.reason, StopReason::Stop);
}

TEST_F(ChatGeneration, EndsAHarmonyAnswerOnReturnNotOnEnd) {
  use_markers();
  std::vector<int32_t> script;
  then(script, "<|channel|>", true);
  then(script, "final");
  then(script, "<|message|>", true);
  then(script, "One.");
  then(script, "<|end|>", true);
  then(script, "<|start|>", true);
  then(script, "assistant");
  then(script, "<|channel|>", true);
  then(script, "final");
  then(script, "<|message|>", true);
  then(script, " Two.");
  then(script, "<|return|>", true);
  const GenerateStats stats = answer("harmony", script);
  EXPECT_EQ(text_, "One. Two.");
  EXPECT_EQ(reasoning_, "");
  EXPECT_EQ(stats.reason, StopReason::Stop);
  EXPECT_EQ(stats.generated_tokens, script.size() - 1);
}

TEST_F(ChatGeneration, CancelsFromTheReasoningStream) {
  use_markers();
  std::vector<int32_t> script;
  then(script, "<|channel|>", true);
  then(script, "analysis");
  then(script, "<|message|>", true);
  then(script, "a b c d e f g h i j k l m n o p");
  cancel_after_reasoning_ = 3;
  EXPECT_EQ(answer("harmony", script).reason, StopReason::Cancelled);
  EXPECT_EQ(text_, "");
}

TEST_F(ChatGeneration, GivesTheHarmonyTextAsItIsWhenTheVocabularyLacksTheMarkers) {
  use(test::fixture("models/llama3-bpe-q4_k_m.gguf"));  // the gpt-oss fixture's vocabulary: no harmony tokens
  std::vector<int32_t> script;
  then(script, "Plain answer.<|return|>ignored");
  EXPECT_EQ(answer("harmony", script).reason, StopReason::Stop);
  EXPECT_EQ(text_, "Plain answer.");
}

}  // namespace
}  // namespace halo::chat
