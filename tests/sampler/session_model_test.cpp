// Session::generate on the fixture models with the CPU backend: greedy
// generation gives the reference's greedy tokens wherever the reference's
// choice is clear-cut (its top two logits more than 2.0 apart).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/model/model.h"
#include "engine/session/session.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/fixtures.h"

namespace halo {
namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return nlohmann::json::parse(s.str());
}

// How many leading greedy steps of a case are decided by a margin over 2.0.
size_t clear_cut_steps(const nlohmann::json& c) {
  size_t n = 0;
  for (size_t i = 0; i < c["greedy"].size(); ++i) {
    const auto& top = i == 0 ? c["prompt_top8"].back() : c["greedy_top8"][i - 1];
    if (top[0][1].get<double>() - top[1][1].get<double>() <= 2.0) break;
    ++n;
  }
  return n;
}

class SessionOnModel : public ::testing::TestWithParam<std::string> {};

TEST_P(SessionOnModel, GreedyTokensFollowTheReference) {
  const std::string name = GetParam();
  auto model = Model::load(test::fixture("models/" + name + ".gguf"));
  auto backend = create_backend("cpu");
  RunnerOptions opts;
  opts.n_threads = 1;
  opts.n_ctx = 256;
  auto runner = backend->attach(*model, opts);
  auto ref = read_json(test::fixture("refs/" + name + ".exact.json"));
  size_t compared = 0;
  for (const auto& c : ref["cases"]) {
    GenerateParams params;
    params.sampling.temperature = 0;
    params.max_tokens = static_cast<uint32_t>(c["greedy"].size());
    std::vector<int32_t> got;
    Session session(*model, *runner);
    GenerateStats stats = session.generate(c["prompt"].get<std::string>(), params, [&](std::string_view, int32_t t) {
      got.push_back(t);
      return true;
    });
    EXPECT_EQ(stats.prompt_tokens, c["prompt_tokens"].size());
    size_t n = clear_cut_steps(c);
    for (size_t i = 0; i < n; ++i) {
      int32_t want = c["greedy"][i].get<int32_t>();
      if (model->tokenizer().is_eog(want)) break;  // the session stops there
      ASSERT_LT(i, got.size()) << name << ": stopped early (" << stop_reason_name(stats.reason) << ")";
      ASSERT_EQ(got[i], want) << name << ", prompt '" << c["prompt"].get<std::string>() << "', step " << i;
      ++compared;
    }
  }
  EXPECT_GT(compared, 0u) << "no clear-cut step to compare";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SessionOnModel,
                         ::testing::Values("llama-spm-q4_k_m", "llama3-bpe-q4_k_m", "qwen2-spm-q4_0",
                                           "qwen3-spm-q8_0"));

}  // namespace
}  // namespace halo
