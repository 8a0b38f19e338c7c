// Byte-level BPE (tokenizer.ggml.model = "gpt2"): text is split into words by
// the pre-tokenizer, each byte becomes GPT-2's printable stand-in character,
// and adjacent tokens merge by rank until no merge applies.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/tokenizer/pretokenize.h"
#include "engine/tokenizer/vocab.h"

namespace halo::tok {

// GPT-2's reversible byte ↔ character mapping: printable Latin-1 bytes stand
// for themselves, the other 68 bytes for U+0100.. in order.
const std::array<std::string, 256>& byte_to_unicode();
// The byte a stand-in code point represents, or -1.
int unicode_to_byte(uint32_t cp);
// Token text (stand-in characters) → the bytes it represents; characters
// outside the mapping are kept as they are.
std::string decode_byte_level(std::string_view token_text);

class BpeEncoder {
 public:
  // Throws halo::Error(BadModel) for an unknown pre-tokenizer.
  BpeEncoder(const Vocab& vocab, const TokenIndex& index);

  // Encodes one fragment of raw text (any bytes; invalid UTF-8 is read as U+FFFD).
  void encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;  // token id of the joined text, -1 if the vocabulary lacks it
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  void emit_byte_tokens(std::string_view bytes, std::vector<int32_t>& out) const;

  const Vocab& vocab_;
  const TokenIndex& index_;
  std::unique_ptr<Pretokenizer> pre_;
  std::array<int32_t, 256> byte_tokens_{};  // token of each byte's stand-in, -1 if absent
  std::unordered_map<uint64_t, Merge> merges_;  // (left id, right id) → merge
};

}  // namespace halo::tok
