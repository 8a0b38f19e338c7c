// The families' renderers and how each is recognised. Each family file
// (chatml.cpp, llama.cpp, turns.cpp, harmony.cpp) defines its styles;
// styles.cpp lists them in the order recognition tries them.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/chat.h"
#include "engine/chat/text.h"

namespace halo::chat {

// Collects a prompt's pieces; consecutive pieces of one kind are joined.
class PromptBuilder {
 public:
  PromptBuilder& fixed(std::string_view text);    // the template's own text
  PromptBuilder& content(std::string_view text);  // message text
  Prompt take() { return std::move(prompt_); }

 private:
  PromptBuilder& add(std::string_view text, bool from_template);
  Prompt prompt_;
};

using Messages = std::span<const Message>;
using RenderFn = void (*)(Messages, const RenderOptions&, const StyleParams&, PromptBuilder&);
// True when a template's text is of this style; fills what the text sets.
using MatchFn = bool (*)(const text::TemplateText&, StyleParams&);

struct Style {
  std::string_view name;
  RenderFn render;
  MatchFn match;
  std::vector<std::string_view> end_of_turn;
  std::vector<std::string_view> not_end_of_turn = {};
  bool channels = false;
  StyleParams defaults = {};  // when named rather than recognised
};

// In recognition order: a style whose markers another's include comes first.
const std::vector<Style>& all_styles();

std::vector<Style> harmony_styles();
std::vector<Style> chatml_styles();
std::vector<Style> llama_styles();
std::vector<Style> turn_styles();

// Helpers of the renderers.
[[noreturn]] void refuse(std::string_view style, std::string_view why);
// What the Hugging Face templates check: user at even positions, assistant
// (or anything else) at odd ones.
void require_alternation(Messages messages, std::string_view style);
bool is_system(const Message& m);
// The messages after a leading system message, and that message (or null).
struct SystemSplit {
  const Message* system = nullptr;
  Messages rest;
};
SystemSplit split_system(Messages messages);

}  // namespace halo::chat
