// Arbitrary bytes: every vocabulary encodes them without error, into ids of
// the vocabulary, and byte-level BPE gives the text back (invalid UTF-8 as
// U+FFFD, one per bad byte).
#include <gtest/gtest.h>

#include <random>

#include "engine/tokenizer/utf8.h"
#include "tests/tokenizer/fixture_cases.h"

namespace halo::test {
namespace {

// Random text mixing ASCII, multi-byte characters, special-token spellings
// and raw bytes that are often invalid UTF-8.
std::string random_text(std::mt19937& rng) {
  static const char* const kPieces[] = {
      "a", "Hello", " ", "  ", "\n", "\r\n", "\t", "'s", "'LL", "123456", "é", "中文", "\xF0\x9F\xA6\x99",
      "<|eot_id|>", "<|im_start|>", "<s>", "</s>", "[PAD151650]", "!!", "\xC2\xA0", "\xE3\x80\x80"};
  std::uniform_int_distribution<int> count(0, 40);
  std::uniform_int_distribution<int> pick(0, static_cast<int>(std::size(kPieces)));
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s;
  for (int i = count(rng); i > 0; --i) {
    const int p = pick(rng);
    if (p == static_cast<int>(std::size(kPieces))) {
      s.push_back(static_cast<char>(byte(rng)));
    } else {
      s += kPieces[p];
    }
  }
  return s;
}

TEST(Robustness, RandomBytesEncodeIntoTheVocabulary) {
  std::mt19937 rng(1234);
  for (const char* vocab : {"llama-spm", "qwen2", "llama-bpe"}) {
    const Tokenizer& tok = fixture_tokenizer(vocab);
    for (int round = 0; round < 300; ++round) {
      const std::string text = random_text(rng);
      for (const bool special : {false, true}) {
        for (const int32_t id : tok.encode(text, true, special)) {
          ASSERT_LT(static_cast<uint32_t>(id), tok.n_vocab()) << vocab;
        }
      }
    }
  }
}

TEST(Robustness, ByteLevelBpeGivesBackSanitizedText) {
  std::mt19937 rng(99);
  for (const char* vocab : {"qwen2", "llama-bpe"}) {
    const Tokenizer& tok = fixture_tokenizer(vocab);
    for (int round = 0; round < 300; ++round) {
      const std::string text = random_text(rng);
      std::string decoded;
      // Render specials so that cut-out control tokens come back as text.
      for (const int32_t id : tok.encode(text, false, true)) decoded += tok.piece(id, true);
      ASSERT_EQ(decoded, tok::sanitize_utf8(text)) << vocab;
    }
  }
}

}  // namespace
}  // namespace halo::test
