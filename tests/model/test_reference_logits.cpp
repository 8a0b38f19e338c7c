// Whole models against the fixture references (../shared/fixtures/refs):
// teacher forcing through the CPU backend, once as one batch with all
// logits and once as a prompt batch followed by one-token decode steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/fixtures.h"

namespace halo {
namespace {

using json = nlohmann::json;

const char* const kModels[] = {"llama-spm-q4_k_m", "qwen3-spm-q8_0", "qwen2-spm-q4_0", "llama3-bpe-q4_k_m"};

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return json::parse(in);
}

// One teacher-forced sequence: the tokens fed and, for each position, the
// reference's top 8 (id, logit) after that token.
struct Sequence {
  std::vector<int32_t> tokens;
  size_t n_prompt = 0;
  std::vector<std::vector<std::pair<int32_t, float>>> top8;
};

Sequence sequence_of(const json& c) {
  Sequence s;
  for (int32_t id : c["prompt_tokens"]) s.tokens.push_back(id);
  s.n_prompt = s.tokens.size();
  for (int32_t id : c["greedy"]) s.tokens.push_back(id);
  for (const char* key : {"prompt_top8", "greedy_top8"})
    for (const auto& pos : c[key]) {
      std::vector<std::pair<int32_t, float>> top;
      for (const auto& e : pos) top.emplace_back(e[0].get<int32_t>(), e[1].get<float>());
      s.top8.push_back(top);
    }
  return s;
}

// Logits (positions × n_vocab) of a sequence evaluated in one batch.
std::vector<float> logits_one_batch(Runner& r, const Sequence& s) {
  std::vector<float> logits;
  r.eval(s.tokens, 0, true, logits);
  return logits;
}

// The same positions: the prompt as one batch (its last-row logits only,
// plus all rows in a second call to cover the prompt positions), then each
// further token as a one-token decode step.
std::vector<float> logits_prompt_then_decode(Runner& r, const Sequence& s, uint32_t n_vocab) {
  std::vector<float> all, step;
  std::span<const int32_t> tokens(s.tokens);
  r.eval(tokens.first(s.n_prompt), 0, true, all);
  r.eval(tokens.first(s.n_prompt), 0, false, step);  // rewinds and recomputes: last row only
  // Same values up to f32 summation order (the one-row path and the tiled path sum differently).
  const float* last = all.data() + all.size() - n_vocab;
  for (uint32_t i = 0; i < n_vocab; ++i)
    if (std::fabs(step[i] - last[i]) > 1e-4f * (1 + std::fabs(last[i]))) {
      ADD_FAILURE() << "last-row logit " << i << ": " << step[i] << " vs all-logits " << last[i];
      break;
    }
  for (size_t i = s.n_prompt; i < s.tokens.size(); ++i) {
    r.eval(tokens.subspan(i, 1), static_cast<uint32_t>(i), false, step);
    all.insert(all.end(), step.begin(), step.end());
  }
  return all;
}

struct Comparison {
  double max_diff = 0;      // largest |mine - ref| over all compared logits
  int bound_failures = 0;   // logits outside rel * |ref| + abs
  int argmax_failures = 0;  // clear-margin positions where the argmax differs
};

Comparison compare(const std::vector<float>& logits, const Sequence& s, uint32_t n_vocab, double rel, double abs) {
  Comparison c;
  for (size_t pos = 0; pos < s.top8.size(); ++pos) {
    const float* row = logits.data() + pos * n_vocab;
    for (const auto& [id, ref] : s.top8[pos]) {
      const double diff = std::fabs(row[id] - ref);
      c.max_diff = std::max(c.max_diff, diff);
      if (diff > rel * std::fabs(ref) + abs) {
        if (++c.bound_failures <= 5)
          ADD_FAILURE() << "position " << pos << " token " << id << ": " << row[id] << " vs reference " << ref;
      }
    }
    const auto& top = s.top8[pos];
    if (top[0].second - top[1].second > 2.0f) {
      const int32_t mine = static_cast<int32_t>(std::max_element(row, row + n_vocab) - row);
      if (mine != top[0].first && ++c.argmax_failures <= 5)
        ADD_FAILURE() << "position " << pos << ": argmax " << mine << ", reference " << top[0].first;
    }
  }
  return c;
}

class ReferenceLogits : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    model_ = Model::load(test::fixture(std::string("models/") + GetParam() + ".gguf"));
    backend_ = create_backend("cpu");
    runner_ = backend_->attach(*model_, RunnerOptions{256, 2});
  }
  std::unique_ptr<Model> model_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Runner> runner_;
};

TEST_P(ReferenceLogits, MatchesExactReferenceWithinFloat32Bound) {
  const json ref = read_json(test::fixture(std::string("refs/") + GetParam() + ".exact.json"));
  const uint32_t n_vocab = model_->hparams().n_vocab;
  double worst = 0;
  for (const auto& c : ref["cases"]) {
    const Sequence s = sequence_of(c);
    ASSERT_EQ(s.top8.size(), s.tokens.size());
    for (bool batch : {true, false}) {
      SCOPED_TRACE(std::string(batch ? "one batch" : "prompt then decode") + ", prompt: " + c["prompt"].get<std::string>());
      const auto logits = batch ? logits_one_batch(*runner_, s) : logits_prompt_then_decode(*runner_, s, n_vocab);
      const Comparison cmp = compare(logits, s, n_vocab, 0.005, 0.05);
      EXPECT_EQ(cmp.bound_failures, 0);
      EXPECT_EQ(cmp.argmax_failures, 0);
      worst = std::max(worst, cmp.max_diff);
    }
  }
  RecordProperty("max_abs_diff_vs_exact", std::to_string(worst));
  std::printf("%s: largest |cpu - exact| = %.6f\n", GetParam(), worst);
}

TEST_P(ReferenceLogits, AgreesWithLlamaCppOnTokensAndGreedyChoices) {
  const json ref = read_json(test::fixture(std::string("refs/") + GetParam() + ".llamacpp.json"));
  const uint32_t n_vocab = model_->hparams().n_vocab;
  for (const auto& c : ref["cases"]) {
    const std::string prompt = c["prompt"];
    SCOPED_TRACE("prompt: " + prompt);
    const auto tokens = model_->tokenizer().encode(prompt, model_->tokenizer().add_bos_default(), false);
    EXPECT_EQ(tokens, c["prompt_tokens"].get<std::vector<int32_t>>());
    const Sequence s = sequence_of(c);
    // The reference quantizes activations and its KV cache, so only the
    // greedy choices with a clear margin are compared, with a loose bound on values.
    const Comparison cmp = compare(logits_one_batch(*runner_, s), s, n_vocab, 0.07, 0.5);
    EXPECT_EQ(cmp.argmax_failures, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(FixtureModels, ReferenceLogits, ::testing::ValuesIn(kModels),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace halo
