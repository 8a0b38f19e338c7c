// The Tokenizer behind Tokenizer::from_gguf: one vocabulary, one encoder
// (SentencePiece or byte-level BPE), special tokens split out first.
#pragma once
#include <memory>
#include <unordered_set>

#include "engine/tokenizer/bpe.h"
#include "engine/tokenizer/special.h"
#include "engine/tokenizer/spm.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/vocab.h"

namespace halo::tok {

class VocabTokenizer final : public Tokenizer {
 public:
  // Throws halo::Error(BadModel) when the vocabulary cannot be used.
  explicit VocabTokenizer(Vocab vocab);
  // The encoders keep references into vocab_, so the object stays in place.
  VocabTokenizer(const VocabTokenizer&) = delete;
  VocabTokenizer& operator=(const VocabTokenizer&) = delete;

  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const override;
  std::vector<int32_t> encode_spans(std::span<const Span> spans) const override;
  std::string piece(int32_t id, bool render_special = false) const override;
  uint32_t n_vocab() const override { return static_cast<uint32_t>(vocab_.texts.size()); }
  int32_t bos() const override { return vocab_.bos; }
  int32_t eos() const override { return vocab_.eos; }
  int32_t eot() const override { return vocab_.eot; }
  bool add_bos_default() const override { return vocab_.add_bos && vocab_.bos >= 0; }
  bool is_eog(int32_t id) const override { return eog_.count(id) != 0; }
  std::vector<int32_t> eog_tokens() const override;
  std::string model_name() const override { return vocab_.kind == VocabKind::Spm ? "llama" : "gpt2"; }

  const Vocab& vocab() const { return vocab_; }

 private:
  void find_end_of_generation();
  // Encodes text already cut into raw runs and special tokens.
  std::vector<int32_t> encode_fragments(std::string_view text, const std::vector<Fragment>& fragments,
                                        bool add_bos) const;
  int byte_of_token(int32_t id) const;  // SentencePiece <0xXX> → XX, or -1

  Vocab vocab_;
  TokenIndex index_;
  std::vector<int32_t> specials_;  // longest first
  std::unordered_set<int32_t> eog_;
  std::unique_ptr<SpmEncoder> spm_;
  std::unique_ptr<BpeEncoder> bpe_;
};

}  // namespace halo::tok
