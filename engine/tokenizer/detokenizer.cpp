// Streaming detokenization: token pieces may end inside a UTF-8 character
// (byte-fallback tokens, byte-level BPE), so bytes are held back until the
// character is complete.
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8.h"

namespace halo {
namespace {

// Moves the decodable part of `pending` to the result. Invalid bytes become
// U+FFFD; a valid but unfinished sequence at the end stays pending unless
// `final`.
std::string take_complete(std::string& pending, bool final) {
  std::string out;
  size_t pos = 0;
  while (pos < pending.size()) {
    const tok::Utf8Char c = tok::decode_utf8(pending, pos);
    if (c.truncated && !final) break;
    if (c.valid) {
      out.append(pending, pos, c.len);
    } else {
      tok::append_utf8(out, tok::kReplacementChar);
    }
    pos += c.len;
  }
  pending.erase(0, pos);
  return out;
}

}  // namespace

std::string Detokenizer::push(int32_t id) {
  pending_ += tok_.piece(id);
  return take_complete(pending_, false);
}

std::string Detokenizer::flush() { return take_complete(pending_, true); }

}  // namespace halo
