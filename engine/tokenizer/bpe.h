// Byte-level BPE (tokenizer.ggml.model = "gpt2"): text is split into words by
// the pre-tokenizer, each byte becomes GPT-2's printable stand-in character,
// and adjacent tokens merge by rank until no merge applies.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/flat_table.h"
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
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  void emit_byte_tokens(std::string_view bytes, std::vector<int32_t>& out) const;

  const TokenIndex& index_;
  std::unique_ptr<Pretokenizer> pre_;
  std::array<int32_t, 256> byte_tokens_{};  // token of each byte's stand-in, -1 if absent
  MergeTable merges_;
};

}  // namespace halo::tok
