// The prompts of ../shared/fixtures/refs/*.json must tokenize, with BOS as
// each model's metadata asks, to exactly the reference's prompt_tokens.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/fixtures.h"
#include "tests/tokenizer/fixture_cases.h"

namespace halo::test {
namespace {

class ReferencePrompts : public testing::TestWithParam<std::string> {};

TEST_P(ReferencePrompts, TokenizeAsTheReference) {
  const std::string path = fixture("refs/" + GetParam());
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot read " << path;
  const nlohmann::json ref = nlohmann::json::parse(in);
  const Tokenizer& tok = tokenizer_at(fixture("models/" + ref.at("model").get<std::string>()));
  ASSERT_FALSE(ref.at("cases").empty());
  for (const auto& c : ref.at("cases")) {
    const std::string prompt = c.at("prompt").get<std::string>();
    const auto expected = c.at("prompt_tokens").get<std::vector<int32_t>>();
    EXPECT_EQ(tok.encode(prompt, /*add_bos=*/true, /*parse_special=*/false), expected) << prompt;
    // None of the prompts spells a special token, so parsing them changes nothing.
    EXPECT_EQ(tok.encode(prompt, true, true), expected) << prompt;
  }
}

INSTANTIATE_TEST_SUITE_P(Refs, ReferencePrompts,
                         testing::Values("llama-spm-q4_k_m.exact.json", "llama-spm-q4_k_m.llamacpp.json",
                                         "llama3-bpe-q4_k_m.exact.json", "llama3-bpe-q4_k_m.llamacpp.json",
                                         "qwen2-spm-q4_0.exact.json", "qwen2-spm-q4_0.llamacpp.json",
                                         "qwen3-spm-q8_0.exact.json", "qwen3-spm-q8_0.llamacpp.json"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(0, info.param.size() - 5);
                           for (char& c : name) {
                             if (c == '-' || c == '.') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace halo::test
