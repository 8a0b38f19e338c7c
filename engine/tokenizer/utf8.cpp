#include "engine/tokenizer/utf8.h"

namespace halo::tok {

size_t utf8_lead_length(uint8_t lead) {
  // Indexed by the top four bits: 0xxx → 1, 10xx (continuation) → 1,
  // 110x → 2, 1110 → 3, 1111 → 4.
  static constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

Utf8Char decode_utf8(std::string_view s, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[pos + i]); };
  const uint8_t lead = byte(0);
  Utf8Char c;
  if (lead < 0x80) return {lead, 1, true, false};

  size_t need;
  uint32_t cp;
  uint32_t min_cp;
  if ((lead & 0xE0) == 0xC0) { need = 2; cp = lead & 0x1F; min_cp = 0x80; }
  else if ((lead & 0xF0) == 0xE0) { need = 3; cp = lead & 0x0F; min_cp = 0x800; }
  else if ((lead & 0xF8) == 0xF0) { need = 4; cp = lead & 0x07; min_cp = 0x10000; }
  else { c.cp = kReplacementChar; return c; }  // continuation byte or 0xF8..0xFF

  for (size_t i = 1; i < need; ++i) {
    if (pos + i >= s.size()) {
      c.cp = kReplacementChar;
      c.truncated = true;
      return c;
    }
    if ((byte(i) & 0xC0) != 0x80) { c.cp = kReplacementChar; return c; }
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    c.cp = kReplacementChar;
    return c;
  }
  return {cp, need, true, false};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) {
    const Utf8Char c = decode_utf8(s, pos);
    if (c.valid) {
      out.append(s.substr(pos, c.len));
    } else {
      append_utf8(out, kReplacementChar);
    }
    pos += c.len;
  }
  return out;
}

}  // namespace halo::tok
