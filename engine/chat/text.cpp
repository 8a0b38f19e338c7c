#include "engine/chat/text.h"

#include <algorithm>
#include <cstdint>

namespace halo::chat::text {
namespace {

// Python's str.isspace() code points.
bool is_python_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 0;
}

// The code point starting at s[at] and its length; length 0 when the bytes
// are not UTF-8 (such bytes are never whitespace).
std::pair<uint32_t, size_t> decode_at(std::string_view s, size_t at) {
  const auto lead = static_cast<unsigned char>(s[at]);
  const size_t len = sequence_length(lead);
  if (len == 0 || at + len > s.size()) return {0, 0};
  uint32_t cp = len == 1 ? lead : lead & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[at + k]);
    if ((c >> 6) != 0x2) return {0, 0};
    cp = (cp << 6) | (c & 0x3F);
  }
  return {cp, len};
}

size_t leading_space(std::string_view s) {
  size_t at = 0;
  while (at < s.size()) {
    auto [cp, len] = decode_at(s, at);
    if (len == 0 || !is_python_space(cp)) break;
    at += len;
  }
  return at;
}

size_t trailing_space(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;  // back to the lead byte of the last character
    while (start > 0 && end - start < 4 && (static_cast<unsigned char>(s[start]) >> 6) == 0x2) --start;
    auto [cp, len] = decode_at(s, start);
    if (len != end - start || !is_python_space(cp)) break;
    end = start;
  }
  return s.size() - end;
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

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes the escape at body[i] (just after a backslash), Python's
// unicode-escape rules; returns the index after it.
size_t decode_escape(std::string_view body, size_t i, std::string& out) {
  const char c = body[i];
  static constexpr std::string_view kSimple = "\\'\"abfnrtv", kValues = "\\'\"\a\b\f\n\r\t\v";
  if (size_t k = kSimple.find(c); k != std::string_view::npos) {
    out.push_back(kValues[k]);
    return i + 1;
  }
  const size_t digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
  if (digits && i + digits < body.size()) {
    uint32_t cp = 0;
    size_t k = 1;
    for (; k <= digits && hex_value(body[i + k]) >= 0; ++k) cp = cp * 16 + hex_value(body[i + k]);
    if (k == digits + 1 && cp <= 0x10FFFF) {
      append_utf8(out, cp);
      return i + digits + 1;
    }
  }
  out.push_back('\\');  // unknown escapes stay as written
  out.push_back(c);
  return i + 1;
}

// Reads the quoted literal starting at src[at]; returns the index after it.
size_t read_literal(std::string_view src, size_t at, std::string& out) {
  const char quote = src[at];
  size_t i = at + 1;
  while (i < src.size() && src[i] != quote) {
    if (src[i] == '\\' && i + 1 < src.size()) {
      i = decode_escape(src, i + 1, out);
    } else {
      out.push_back(src[i++]);
    }
  }
  return std::min(i + 1, src.size());
}

// Reads the tag (expression or statement) starting after its opening
// delimiter at src[at]; returns the index after its closing delimiter.
size_t read_tag(std::string_view src, size_t at, char close, TemplateText& t) {
  size_t i = at;
  while (i < src.size()) {
    const char c = src[i];
    if (c == '\'' || c == '"') {
      std::string literal;
      i = read_literal(src, i, literal);
      t.literals.push_back(std::move(literal));
    } else if (c == close && i + 1 < src.size() && src[i + 1] == '}') {
      return i + 2;
    } else {
      ++i;
    }
  }
  return i;
}

}  // namespace

std::string_view strip(std::string_view s) { return rstrip(lstrip(s)); }
std::string_view lstrip(std::string_view s) { return s.substr(leading_space(s)); }
std::string_view rstrip(std::string_view s) { return s.substr(0, s.size() - trailing_space(s)); }

std::string_view strip(std::string_view s, std::string_view chars) { return rstrip(lstrip(s, chars), chars); }
std::string_view lstrip(std::string_view s, std::string_view chars) {
  const size_t at = s.find_first_not_of(chars);
  return at == std::string_view::npos ? std::string_view() : s.substr(at);
}
std::string_view rstrip(std::string_view s, std::string_view chars) {
  const size_t at = s.find_last_not_of(chars);
  return at == std::string_view::npos ? std::string_view() : s.substr(0, at + 1);
}

std::string_view before_first(std::string_view s, std::string_view sep) { return s.substr(0, s.find(sep)); }
std::string_view after_last(std::string_view s, std::string_view sep) {
  const size_t at = s.rfind(sep);
  return at == std::string_view::npos ? s : s.substr(at + sep.size());
}
bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

bool TemplateText::has_literal(std::string_view s) const {
  return std::find(literals.begin(), literals.end(), s) != literals.end();
}
bool TemplateText::literal_contains(std::string_view part) const {
  return std::any_of(literals.begin(), literals.end(), [&](const std::string& l) { return contains(l, part); });
}
bool TemplateText::raw_contains(std::string_view part) const {
  return std::any_of(raw.begin(), raw.end(), [&](const std::string& r) { return contains(r, part); });
}

TemplateText read_template(std::string_view src) {
  TemplateText t;
  t.source = src;
  size_t i = 0;
  std::string raw;
  while (i < src.size()) {
    const bool tag = src[i] == '{' && i + 1 < src.size() && (src[i + 1] == '{' || src[i + 1] == '%' || src[i + 1] == '#');
    if (!tag) {
      raw.push_back(src[i++]);
      continue;
    }
    if (!raw.empty()) t.raw.push_back(std::move(raw));
    raw.clear();
    const char open = src[i + 1];
    if (open == '#') {  // a comment: nothing in it counts
      const size_t end = src.find("#}", i + 2);
      i = end == std::string_view::npos ? src.size() : end + 2;
    } else {
      i = read_tag(src, i + 2, open == '{' ? '}' : '%', t);
    }
  }
  if (!raw.empty()) t.raw.push_back(std::move(raw));
  return t;
}

}  // namespace halo::chat::text
