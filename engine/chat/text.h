// Text helpers of the chat renderers: Python's string methods as chat
// templates call them (they run under Jinja on Python strings), and a
// reader for the string literals of a Jinja template's text.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace halo::chat::text {

// str.strip(), lstrip(), rstrip() without arguments: Unicode whitespace as
// Python's str.isspace() defines it, on UTF-8 text.
std::string_view strip(std::string_view s);
std::string_view lstrip(std::string_view s);
std::string_view rstrip(std::string_view s);
// The same with an argument: chars is a set of ASCII characters.
std::string_view strip(std::string_view s, std::string_view chars);
std::string_view lstrip(std::string_view s, std::string_view chars);
std::string_view rstrip(std::string_view s, std::string_view chars);

// s.split(sep)[0] and s.split(sep)[-1].
std::string_view before_first(std::string_view s, std::string_view sep);
std::string_view after_last(std::string_view s, std::string_view sep);
bool contains(std::string_view s, std::string_view part);

// What a Jinja template is made of, as far as recognising it needs: the
// string literals inside its tags (escapes decoded as Jinja decodes them)
// and the text outside its tags (printed as it is).
struct TemplateText {
  std::vector<std::string> literals;
  std::vector<std::string> raw;
  std::string_view source;

  bool has_literal(std::string_view s) const;
  bool literal_contains(std::string_view part) const;  // some literal contains part
  bool raw_contains(std::string_view part) const;      // some text outside the tags contains part
  // Anywhere: in a literal, in the text outside tags, or in the tags' code.
  bool mentions(std::string_view part) const { return source.find(part) != std::string_view::npos || literal_contains(part); }
};
TemplateText read_template(std::string_view jinja);

}  // namespace halo::chat::text
