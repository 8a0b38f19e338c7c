// Every case of ../shared/fixtures/vocab/*.inp must encode to exactly the ids
// of the matching line of *.out (no BOS, special text not parsed).
#include <gtest/gtest.h>

#include "tests/tokenizer/fixture_cases.h"

namespace halo::test {
namespace {

class VocabFixture : public testing::TestWithParam<VocabCase> {};

std::vector<VocabCase> all_cases() {
  std::vector<VocabCase> cases;
  for (const char* vocab : {"llama-spm", "qwen2", "llama-bpe"}) {
    auto v = load_vocab_cases(vocab);
    cases.insert(cases.end(), v.begin(), v.end());
  }
  return cases;
}

std::string case_name(const testing::TestParamInfo<VocabCase>& info) {
  std::string name = info.param.vocab + "_" + std::to_string(info.param.index);
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

TEST_P(VocabFixture, EncodesExactlyAsTheReference) {
  const VocabCase& c = GetParam();
  ASSERT_TRUE(c.error.empty()) << c.error;
  const Tokenizer& tok = fixture_tokenizer(c.vocab);
  EXPECT_EQ(tok.encode(c.text, /*add_bos=*/false, /*parse_special=*/false), c.expected)
      << "text: '" << c.text << "'";
}

INSTANTIATE_TEST_SUITE_P(Cases, VocabFixture, testing::ValuesIn(all_cases()), case_name);

// decode(encode(x)) == x wherever the vocabulary can spell every byte:
// byte-level BPE always, SentencePiece with byte fallback except that it adds
// a leading space.
TEST(VocabRoundTrip, ByteLevelBpeGivesBackEveryFixtureString) {
  for (const char* vocab : {"qwen2", "llama-bpe"}) {
    const Tokenizer& tok = fixture_tokenizer(vocab);
    for (const VocabCase& c : load_vocab_cases(vocab)) {
      ASSERT_TRUE(c.error.empty()) << c.error;
      std::string decoded;
      for (const int32_t id : tok.encode(c.text, false, false)) decoded += tok.piece(id);
      EXPECT_EQ(decoded, c.text) << vocab << " case " << c.index;
    }
  }
}

TEST(VocabRoundTrip, SentencePieceGivesBackEveryFixtureStringAfterItsSpacePrefix) {
  const Tokenizer& tok = fixture_tokenizer("llama-spm");
  for (const VocabCase& c : load_vocab_cases("llama-spm")) {
    ASSERT_TRUE(c.error.empty()) << c.error;
    std::string decoded;
    for (const int32_t id : tok.encode(c.text, false, false)) decoded += tok.piece(id);
    EXPECT_EQ(decoded, c.text.empty() ? "" : " " + c.text) << "case " << c.index;
  }
}

}  // namespace
}  // namespace halo::test
