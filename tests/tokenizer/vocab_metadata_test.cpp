// Vocabularies written here with the project's GGUF writer: malformed
// metadata must give BadModel naming the key; small well-formed vocabularies
// check merge order, space prefix, unknown characters and pre-tokenizers.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <unistd.h>

#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "engine/gguf/writer.h"
#include "engine/tokenizer/tokenizer.h"

namespace halo::test {
namespace {

using Ids = std::vector<int32_t>;
using Strings = std::vector<std::string>;

// Writes the metadata to a temporary GGUF file and loads its tokenizer.
std::unique_ptr<Tokenizer> load(const gguf::Writer& w) {
  static std::atomic<int> counter{0};
  const std::string path = testing::TempDir() + "/halo-vocab-" + std::to_string(getpid()) + "-" +
                           std::to_string(counter++) + ".gguf";
  w.write(path);
  auto file = gguf::File::open(path);
  std::remove(path.c_str());  // the mapping stays valid
  return Tokenizer::from_gguf(*file);
}

void expect_bad_model(const gguf::Writer& w, const std::string& needle) {
  try {
    load(w);
    ADD_FAILURE() << "loaded although it should fail with '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadModel) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// A SentencePiece vocabulary: "▁" is U+2581.
const Strings kSpmTokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a", "ab",
                            "\xE2\x96\x81" "ab"};
const std::vector<float> kSpmScores = {0, 0, 0, -1, -2, -2, -3, -4, -1};
const std::vector<int32_t> kSpmTypes = {2, 3, 3, 1, 1, 1, 1, 1, 1};

void add_spm(gguf::Writer& w, bool with_model = true) {
  if (with_model) w.add_string("tokenizer.ggml.model", "llama");
  w.add_string_array("tokenizer.ggml.tokens", kSpmTokens);
  w.add_array<float>("tokenizer.ggml.scores", kSpmScores);
  w.add_array<int32_t>("tokenizer.ggml.token_type", kSpmTypes);
}

// A byte-level BPE vocabulary over a, b, c and space ("Ġ" = U+0120).
void add_bpe(gguf::Writer& w, const Strings& merges, const char* pre = "gpt-2") {
  w.add_string("tokenizer.ggml.model", "gpt2");
  if (pre) w.add_string("tokenizer.ggml.pre", pre);
  const Strings tokens = {"a", "b", "c", "\xC4\xA0", "ab", "bc", "abc", "\xC4\xA0" "a"};
  w.add_string_array("tokenizer.ggml.tokens", tokens);
  w.add_array<int32_t>("tokenizer.ggml.token_type", std::vector<int32_t>(tokens.size(), 1));
  w.add_string_array("tokenizer.ggml.merges", merges);
}

TEST(VocabMetadata, MissingModelKeyIsBadModel) {
  gguf::Writer w;
  add_spm(w, false);
  expect_bad_model(w, "tokenizer.ggml.model is missing");
}

TEST(VocabMetadata, UnsupportedModelIsBadModel) {
  gguf::Writer w;
  w.add_string("tokenizer.ggml.model", "bert");
  w.add_string_array("tokenizer.ggml.tokens", kSpmTokens);
  expect_bad_model(w, "'bert' is not supported");
}

TEST(VocabMetadata, ModelOfTheWrongTypeIsBadModel) {
  gguf::Writer w;
  w.add_u32("tokenizer.ggml.model", 7);
  expect_bad_model(w, "tokenizer.ggml.model should be a string");
}

TEST(VocabMetadata, MissingTokensIsBadModel) {
  gguf::Writer w;
  w.add_string("tokenizer.ggml.model", "llama");
  expect_bad_model(w, "tokenizer.ggml.tokens is missing");
}

TEST(VocabMetadata, TokensThatAreNotStringsAreBadModel) {
  gguf::Writer w;
  w.add_string("tokenizer.ggml.model", "llama");
  w.add_array<int32_t>("tokenizer.ggml.tokens", std::vector<int32_t>{1, 2, 3});
  expect_bad_model(w, "tokenizer.ggml.tokens should be an array of strings");
}

TEST(VocabMetadata, EmptyTokenListIsBadModel) {
  gguf::Writer w;
  w.add_string("tokenizer.ggml.model", "llama");
  w.add_string_array("tokenizer.ggml.tokens", Strings{});
  expect_bad_model(w, "tokenizer.ggml.tokens is empty");
}

TEST(VocabMetadata, ScoreCountDifferentFromTokenCountIsBadModel) {
  gguf::Writer w;
  w.add_string("tokenizer.ggml.model", "llama");
  w.add_string_array("tokenizer.ggml.tokens", kSpmTokens);
  w.add_array<float>("tokenizer.ggml.scores", std::vector<float>{0, 1});
  expect_bad_model(w, "tokenizer.ggml.scores has 2 entries for 9 tokens");
}

TEST(VocabMetadata, TokenTypesThatAreNotNumbersAreBadModel) {
  gguf::Writer w;
  w.add_string("tokenizer.ggml.model", "llama");
  w.add_string_array("tokenizer.ggml.tokens", kSpmTokens);
  w.add_string_array("tokenizer.ggml.token_type", kSpmTokens);
  expect_bad_model(w, "tokenizer.ggml.token_type should be an array of numbers");
}

TEST(VocabMetadata, SpecialIdOutsideTheVocabularyIsBadModel) {
  gguf::Writer w;
  add_spm(w);
  w.add_u32("tokenizer.ggml.bos_token_id", 100);
  expect_bad_model(w, "tokenizer.ggml.bos_token_id is 100, outside the vocabulary of 9 tokens");
}

TEST(VocabMetadata, FlagOfTheWrongTypeIsBadModel) {
  gguf::Writer w;
  add_spm(w);
  w.add_u32("tokenizer.ggml.add_bos_token", 1);
  expect_bad_model(w, "tokenizer.ggml.add_bos_token should be a bool");
}

TEST(VocabMetadata, BpeWithoutMergesIsBadModel) {
  gguf::Writer w;
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", "gpt-2");
  w.add_string_array("tokenizer.ggml.tokens", Strings{"a", "b"});
  expect_bad_model(w, "tokenizer.ggml.merges is missing");
}

TEST(VocabMetadata, UnknownPreTokenizerIsBadModelListingTheKnownOnes) {
  gguf::Writer w;
  add_bpe(w, {"a b"}, "klingon");
  expect_bad_model(w, "pre-tokenizer 'klingon' (tokenizer.ggml.pre) is not supported; supported: llama3");
}

TEST(VocabMetadata, MergeWithoutSeparatorIsBadModel) {
  gguf::Writer w;
  add_bpe(w, {"a b", "abc"});
  expect_bad_model(w, "tokenizer.ggml.merges entry 1 ('abc') is not two parts");
}

TEST(SmallSpm, MergesByScoreWithTheSpacePrefix) {
  gguf::Writer w;
  add_spm(w);
  auto tok = load(w);
  // "▁ab" (-1) beats the other pairs; ids: ▁ab = 8.
  EXPECT_EQ(tok->encode("ab", false, false), Ids{8});
  EXPECT_EQ(tok->encode("ab", true, false), (Ids{1, 8}));  // SentencePiece defaults: BOS 1
  EXPECT_EQ(tok->piece(8), " ab");
}

TEST(SmallSpm, NoSpacePrefixWhenTheMetadataSaysSo) {
  gguf::Writer w;
  add_spm(w);
  w.add_bool("tokenizer.ggml.add_space_prefix", false);
  auto tok = load(w);
  EXPECT_EQ(tok->encode("ab", false, false), Ids{7});
}

TEST(SmallSpm, CharactersWithoutTokensBecomeUnknownWithoutByteTokens) {
  gguf::Writer w;
  add_spm(w);
  auto tok = load(w);
  // "x" has no token and the vocabulary has no <0xXX> tokens: one <unk> per byte.
  EXPECT_EQ(tok->encode("axé", false, false), (Ids{6, 0, 0, 0}));
}

TEST(SmallBpe, MergesApplyByRank) {
  {
    gguf::Writer w;
    add_bpe(w, {"b c", "a b", "a bc"});
    auto tok = load(w);
    EXPECT_EQ(tok->encode("abc", false, false), Ids{6});  // b+c first, then a+bc
  }
  {
    gguf::Writer w;
    add_bpe(w, {"a b", "b c", "a bc"});
    auto tok = load(w);
    EXPECT_EQ(tok->encode("abc", false, false), (Ids{4, 2}));  // a+b first; no "ab c" merge
  }
}

TEST(SmallBpe, GptTwoSplitKeepsTheSpaceWithTheFollowingWord) {
  gguf::Writer w;
  add_bpe(w, {"\xC4\xA0 a"});
  auto tok = load(w);
  // "a a" → "a", " a" (Ġa = 7)
  EXPECT_EQ(tok->encode("a a", false, false), (Ids{0, 7}));
  EXPECT_EQ(tok->piece(7), " a");
  EXPECT_FALSE(tok->add_bos_default());
}

TEST(SmallBpe, MissingPreTokenizerFallsBackToTheDefault) {
  gguf::Writer w;
  add_bpe(w, {"a b"}, nullptr);
  auto tok = load(w);
  EXPECT_EQ(tok->encode("ab", false, false), Ids{4});
}

}  // namespace
}  // namespace halo::test
