// Streaming detokenization: only complete UTF-8 characters come out of push;
// flush gives the rest with invalid bytes as U+FFFD.
#include <gtest/gtest.h>

#include "engine/tokenizer/utf8.h"
#include "tests/tokenizer/fixture_cases.h"

namespace halo::test {
namespace {

const std::string kLlama = "\xF0\x9F\xA6\x99";  // U+1F999, four bytes
const std::string kReplacement = "\xEF\xBF\xBD";

bool valid_utf8(const std::string& s) {
  for (size_t pos = 0; pos < s.size();) {
    const tok::Utf8Char c = tok::decode_utf8(s, pos);
    if (!c.valid) return false;
    pos += c.len;
  }
  return true;
}

TEST(Detokenizer, HoldsByteFallbackTokensUntilTheCharacterIsComplete) {
  const Tokenizer& spm = fixture_tokenizer("llama-spm");
  const std::vector<int32_t> ids = spm.encode(kLlama, false, false);
  // "▁" then one <0xXX> token per byte of the emoji.
  ASSERT_EQ(ids.size(), 5u);
  Detokenizer d(spm);
  EXPECT_EQ(d.push(ids[0]), " ");
  EXPECT_EQ(d.push(ids[1]), "");
  EXPECT_EQ(d.push(ids[2]), "");
  EXPECT_EQ(d.push(ids[3]), "");
  EXPECT_EQ(d.push(ids[4]), kLlama);
  EXPECT_EQ(d.flush(), "");
}

TEST(Detokenizer, StreamsOnlyValidPrefixesOfTheText) {
  const std::string text = "Grüße " + kLlama + " 😶‍🌫️ нещо 我想在apple工作";
  for (const char* vocab : {"llama-spm", "qwen2", "llama-bpe"}) {
    const Tokenizer& tok = fixture_tokenizer(vocab);
    const std::vector<int32_t> ids = tok.encode(text, false, false);
    std::string whole;
    for (const int32_t id : ids) whole += tok.piece(id);
    Detokenizer d(tok);
    std::string streamed;
    size_t held_back = 0;  // pushes that returned nothing
    for (const int32_t id : ids) {
      const std::string out = d.push(id);
      EXPECT_TRUE(valid_utf8(out)) << vocab;
      if (out.empty()) ++held_back;
      streamed += out;
      EXPECT_EQ(whole.compare(0, streamed.size(), streamed), 0) << vocab;
    }
    streamed += d.flush();
    EXPECT_EQ(streamed, whole) << vocab;
    EXPECT_GT(held_back, 0u) << vocab << ": some character should span tokens";
  }
}

TEST(Detokenizer, FlushReplacesAnUnfinishedCharacter) {
  const Tokenizer& spm = fixture_tokenizer("llama-spm");
  const std::vector<int32_t> ids = spm.encode(kLlama, false, false);
  ASSERT_EQ(ids.size(), 5u);
  Detokenizer d(spm);
  EXPECT_EQ(d.push(ids[0]), " ");
  EXPECT_EQ(d.push(ids[1]), "");
  EXPECT_EQ(d.push(ids[2]), "");
  EXPECT_EQ(d.flush(), kReplacement + kReplacement);
  EXPECT_EQ(d.flush(), "");
  EXPECT_EQ(d.push(ids[0]), " ");  // usable afterwards
}

TEST(Detokenizer, InvalidBytesBecomeReplacementCharactersAtOnce) {
  const Tokenizer& spm = fixture_tokenizer("llama-spm");
  // <0xFF> can never start a character, and a stray continuation byte neither.
  const std::vector<int32_t> ids = spm.encode("\xFF" "a\x80", false, false);
  Detokenizer d(spm);
  std::string out;
  for (const int32_t id : ids) out += d.push(id);
  EXPECT_EQ(out, " " + kReplacement + "a" + kReplacement);
  EXPECT_EQ(d.flush(), "");
}

TEST(Detokenizer, ControlTokensProduceNoText) {
  const Tokenizer& llama3 = fixture_tokenizer("llama-bpe");
  Detokenizer d(llama3);
  EXPECT_EQ(d.push(128000), "");
  EXPECT_EQ(d.push(791), "The");
  EXPECT_EQ(d.push(128009), "");
}

}  // namespace
}  // namespace halo::test
