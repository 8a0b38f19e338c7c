// SentencePiece-style encoding (tokenizer.ggml.model = "llama"): characters
// merged pairwise by token score, unknown characters as <0xXX> byte tokens.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/tokenizer/vocab.h"

namespace halo::tok {

class SpmEncoder {
 public:
  SpmEncoder(const Vocab& vocab, const TokenIndex& index);

  // Encodes one fragment of raw text. prefix_space: prepend " " first (the
  // vocabulary's add_space_prefix, at the start or after a special token).
  void encode(std::string_view text, bool prefix_space, std::vector<int32_t>& out) const;

 private:
  void merge_and_emit(std::string_view escaped, std::vector<int32_t>& out) const;
  void emit_bytes(std::string_view piece, std::vector<int32_t>& out) const;

  const Vocab& vocab_;
  const TokenIndex& index_;
  std::array<int32_t, 256> byte_tokens_{};  // <0xXX> (or the byte itself); -1 if neither
};

// " " → U+2581 ("▁"), SentencePiece's visible space.
std::string escape_spaces(std::string_view text, bool prefix_space);

}  // namespace halo::tok
