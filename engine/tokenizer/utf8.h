// UTF-8 helpers shared by the tokenizers and the detokenizer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace halo::tok {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Length of the sequence a lead byte announces, from its high bits alone
// (1 for ASCII and for stray continuation bytes). SentencePiece splits text
// into characters this way, without validating them.
size_t utf8_lead_length(uint8_t lead);

struct Utf8Char {
  uint32_t cp = 0;   // the code point (kReplacementChar when !valid)
  size_t len = 1;    // bytes consumed: the whole sequence, or 1 when invalid
  bool valid = false;
  bool truncated = false;  // a valid prefix that the end of the text cut short
};

// Strict decode of the character at s[pos] (pos < s.size()): rejects stray
// continuation bytes, overlong forms, surrogates and code points > U+10FFFF.
Utf8Char decode_utf8(std::string_view s, size_t pos);

void append_utf8(std::string& out, uint32_t cp);

// Copy of s in which every byte that does not start a valid character is
// replaced by U+FFFD, one per byte (the reference tokenizer does the same).
std::string sanitize_utf8(std::string_view s);

}  // namespace halo::tok
