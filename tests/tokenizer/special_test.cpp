// Special tokens: parsing on and off, BOS/EOS from metadata, end of
// generation, and how special pieces render.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/error.h"
#include "tests/tokenizer/fixture_cases.h"

namespace halo::test {
namespace {

using Ids = std::vector<int32_t>;

bool contains(const Ids& ids, int32_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

Ids concat(Ids a, const Ids& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(SpecialTokens, ControlTextBecomesItsTokenOnlyWhenParsingSpecials) {
  const Tokenizer& tok = fixture_tokenizer("llama-bpe");
  const int32_t eot = 128009;  // <|eot_id|>
  EXPECT_EQ(tok.encode("<|eot_id|>", false, true), Ids{eot});
  const Ids plain = tok.encode("<|eot_id|>", false, false);
  EXPECT_FALSE(contains(plain, eot));
  EXPECT_GT(plain.size(), 3u);
}

TEST(SpecialTokens, TextAroundSpecialsIsEncodedPieceByPiece) {
  const Tokenizer& tok = fixture_tokenizer("qwen2");
  const int32_t im_start = 151644, im_end = 151645;
  const Ids got = tok.encode("<|im_start|>user\nHi<|im_end|>", false, true);
  const Ids want = concat(concat(concat(Ids{im_start}, tok.encode("user\nHi", false, false)), Ids{im_end}), {});
  EXPECT_EQ(got, want);
}

TEST(SpecialTokens, UserDefinedTokensAreCutOutEvenWithoutParsingSpecials) {
  // qwen2's [PADnnnnnn] entries are user-defined tokens; the reference cuts
  // them out of plain text too.
  const Tokenizer& tok = fixture_tokenizer("qwen2");
  const Ids got = tok.encode("a[PAD151650]b", false, false);
  EXPECT_EQ(got, concat(concat(tok.encode("a", false, false), Ids{151650}), tok.encode("b", false, false)));
}

TEST(SpecialTokens, SentencePiecePrefixesASpaceAfterASpecialToken) {
  const Tokenizer& tok = fixture_tokenizer("llama-spm");
  EXPECT_EQ(tok.encode("</s>Hello", false, true), concat(Ids{2}, tok.encode("Hello", false, false)));
  // Without parsing, "</s>" is ordinary text.
  EXPECT_FALSE(contains(tok.encode("</s>Hello", false, false), 2));
}

TEST(SpecialTokens, BosIsAddedOnlyWhenAskedAndTheVocabularyWantsIt) {
  const Tokenizer& spm = fixture_tokenizer("llama-spm");
  ASSERT_TRUE(spm.add_bos_default());
  EXPECT_EQ(spm.encode("Hello", true, false), concat(Ids{1}, spm.encode("Hello", false, false)));
  EXPECT_EQ(spm.encode("", true, false), Ids{1});
  EXPECT_EQ(spm.encode("", false, false), Ids{});

  const Tokenizer& llama3 = fixture_tokenizer("llama-bpe");
  EXPECT_EQ(llama3.bos(), 128000);
  EXPECT_EQ(llama3.encode("Hi", true, false).front(), 128000);

  // qwen2's metadata has a BOS id but does not ask for it (no
  // add_bos_token; gpt2 vocabularies default to off).
  const Tokenizer& qwen2 = fixture_tokenizer("qwen2");
  EXPECT_FALSE(qwen2.add_bos_default());
  EXPECT_EQ(qwen2.encode("Hi", true, false), qwen2.encode("Hi", false, false));
}

TEST(SpecialTokens, EndOfGenerationCoversEosEotAndMarkedTurnEnds) {
  const Tokenizer& llama3 = fixture_tokenizer("llama-bpe");
  EXPECT_TRUE(llama3.is_eog(llama3.eos()));  // <|end_of_text|>
  EXPECT_EQ(llama3.eot(), 128009);            // <|eot_id|>, found by its text
  EXPECT_TRUE(llama3.is_eog(128009));
  EXPECT_FALSE(llama3.is_eog(128000));        // BOS
  EXPECT_FALSE(llama3.is_eog(791));           // "The"

  const Tokenizer& qwen2 = fixture_tokenizer("qwen2");
  EXPECT_TRUE(qwen2.is_eog(151643));   // <|endoftext|>
  EXPECT_TRUE(qwen2.is_eog(151645));   // <|im_end|>
  EXPECT_FALSE(qwen2.is_eog(151644));  // <|im_start|>

  const Tokenizer& spm = fixture_tokenizer("llama-spm");
  EXPECT_TRUE(spm.is_eog(2));
  EXPECT_FALSE(spm.is_eog(1));
  EXPECT_EQ(spm.eot(), -1);
}

TEST(SpecialTokens, ControlPiecesRenderOnlyWhenAsked) {
  const Tokenizer& llama3 = fixture_tokenizer("llama-bpe");
  EXPECT_EQ(llama3.piece(128009), "");
  EXPECT_EQ(llama3.piece(128009, true), "<|eot_id|>");
  const Tokenizer& spm = fixture_tokenizer("llama-spm");
  EXPECT_EQ(spm.piece(1), "");
  EXPECT_EQ(spm.piece(1, true), "<s>");
}

TEST(Pieces, SentencePieceShowsSpacesAndBytes) {
  const Tokenizer& spm = fixture_tokenizer("llama-spm");
  EXPECT_EQ(spm.piece(15043), " Hello");  // "▁Hello"
  EXPECT_EQ(spm.piece(13), "\n");         // <0x0A>
  EXPECT_EQ(spm.model_name(), "llama");
  EXPECT_EQ(spm.n_vocab(), 32000u);
}

TEST(Pieces, ByteLevelBpeMapsStandInCharactersBackToBytes) {
  const Tokenizer& llama3 = fixture_tokenizer("llama-bpe");
  EXPECT_EQ(llama3.piece(220), " ");   // "Ġ"
  EXPECT_EQ(llama3.piece(198), "\n");  // "Ċ"
  EXPECT_EQ(llama3.model_name(), "gpt2");
}

TEST(Pieces, AnIdOutsideTheVocabularyIsAnInvalidArgument) {
  const Tokenizer& spm = fixture_tokenizer("llama-spm");
  for (const int32_t bad : {-1, 32000, 1 << 30}) {
    try {
      (void)spm.piece(bad);
      ADD_FAILURE() << "no error for id " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find("outside the vocabulary"), std::string::npos);
    }
  }
}

TEST(Encoding, InvalidUtf8IsEncodedWithoutErrors) {
  // SentencePiece reads a character's length from its lead byte alone (as
  // the reference does), so no space follows within that length here: the
  // space mark would be swallowed and come back as its raw bytes.
  const std::string bad = "ok \xFFxyz done \xC3" "abc \xE2\x82";
  for (const char* vocab : {"llama-spm", "qwen2", "llama-bpe"}) {
    const Tokenizer& tok = fixture_tokenizer(vocab);
    const Ids ids = tok.encode(bad, false, true);
    EXPECT_FALSE(ids.empty()) << vocab;
    for (const int32_t id : ids) EXPECT_LT(static_cast<uint32_t>(id), tok.n_vocab()) << vocab;
  }
  // SentencePiece's byte fallback keeps even invalid bytes.
  const Tokenizer& spm = fixture_tokenizer("llama-spm");
  std::string decoded;
  for (const int32_t id : spm.encode(bad, false, false)) decoded += spm.piece(id);
  EXPECT_EQ(decoded, " " + bad);
}

}  // namespace
}  // namespace halo::test
