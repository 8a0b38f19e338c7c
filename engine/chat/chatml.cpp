// The ChatML family: <|im_start|>ROLE\n ... <|im_end|>\n turns.
//   chatml  OpenHermes, Qwen 1.5/2/2.5; a default system message where the
//           template has one (Qwen2.5: "You are Qwen, created by Alibaba Cloud. ...")
//   qwen3   Qwen3: earlier answers lose their <think> part; the last one
//           after the last question keeps it
//   phi4    Phi-4: <|im_start|>ROLE<|im_sep|> ... <|im_end|>, no newlines
#include "engine/chat/styles.h"

namespace halo::chat {
namespace {

using text::TemplateText;

constexpr std::string_view kSystemOpen = "<|im_start|>system\n", kEnd = "<|im_end|>";

// The text of a literal '<|im_start|>system\nTEXT<|im_end|>...' (Qwen's
// default system message), or empty.
std::string default_system_of(const TemplateText& t) {
  for (const std::string& l : t.literals) {
    if (l.rfind(kSystemOpen, 0) != 0) continue;
    const size_t end = l.find(kEnd, kSystemOpen.size());
    if (end != std::string::npos && end > kSystemOpen.size())
      return l.substr(kSystemOpen.size(), end - kSystemOpen.size());
  }
  return {};
}

bool match_chatml(const TemplateText& t, StyleParams& p) {
  if (!t.literal_contains("<|im_start|>") || t.mentions("<think>") || t.mentions("<|im_sep|>")) return false;
  p.default_system = default_system_of(t);
  return true;
}

void turn(PromptBuilder& out, std::string_view role, std::string_view content) {
  out.fixed("<|im_start|>").fixed(role).fixed("\n").content(content).fixed("<|im_end|>\n");
}

void render_chatml(Messages messages, const RenderOptions& o, const StyleParams& p, PromptBuilder& out) {
  if (!is_system(messages[0]) && !p.default_system.empty())
    out.fixed(kSystemOpen).fixed(p.default_system).fixed("<|im_end|>\n");
  for (const Message& m : messages) turn(out, m.role, m.content);
  if (o.add_generation_prompt) out.fixed("<|im_start|>assistant\n");
}

bool match_qwen3(const TemplateText& t, StyleParams&) {
  return t.literal_contains("<|im_start|>") && t.literal_contains("<think>") && t.mentions("reasoning_content") &&
         t.mentions("last_query_index");
}

bool is_tool_response(std::string_view content) {
  return content.rfind("<tool_response>", 0) == 0 && content.size() >= 16 &&
         content.substr(content.size() - 16) == "</tool_response>";
}

// The index of the last question: the last user message that is not a tool
// response, or the last message.
size_t last_query_index(Messages messages) {
  for (size_t i = messages.size(); i-- > 0;)
    if (messages[i].role == "user" && !is_tool_response(messages[i].content)) return i;
  return messages.size() - 1;
}

void qwen3_answer(PromptBuilder& out, const Message& m, bool keeps_thinking, bool last) {
  std::string_view content = m.content, reasoning;
  if (text::contains(content, "</think>")) {
    content = text::lstrip(text::after_last(m.content, "</think>"), "\n");
    reasoning = text::lstrip(text::after_last(text::rstrip(text::before_first(m.content, "</think>"), "\n"), "<think>"), "\n");
  }
  out.fixed("<|im_start|>assistant\n");
  if (keeps_thinking && (last || !reasoning.empty())) {
    out.fixed("<think>\n").content(text::strip(reasoning, "\n")).fixed("\n</think>\n\n").content(text::lstrip(content, "\n"));
  } else {
    out.content(content);
  }
  out.fixed("<|im_end|>\n");
}

void render_qwen3(Messages messages, const RenderOptions& o, const StyleParams&, PromptBuilder& out) {
  if (is_system(messages[0])) turn(out, "system", messages[0].content);
  const size_t last_query = last_query_index(messages);
  for (size_t i = 0; i < messages.size(); ++i) {
    const Message& m = messages[i];
    if (m.role == "user" || (is_system(m) && i > 0)) turn(out, m.role, m.content);
    if (m.role == "assistant") qwen3_answer(out, m, i > last_query, i + 1 == messages.size());
  }
  if (o.add_generation_prompt) out.fixed("<|im_start|>assistant\n");
}

bool match_phi4(const TemplateText& t, StyleParams&) {
  return t.literal_contains("<|im_start|>") && t.literal_contains("<|im_sep|>");
}

void render_phi4(Messages messages, const RenderOptions& o, const StyleParams&, PromptBuilder& out) {
  for (const Message& m : messages) out.fixed("<|im_start|>").fixed(m.role).fixed("<|im_sep|>").content(m.content).fixed(kEnd);
  if (o.add_generation_prompt) out.fixed("<|im_start|>assistant<|im_sep|>");
}

}  // namespace

std::vector<Style> chatml_styles() {
  return {
      {.name = "phi4", .render = render_phi4, .match = match_phi4, .end_of_turn = {kEnd}},
      {.name = "qwen3", .render = render_qwen3, .match = match_qwen3, .end_of_turn = {kEnd}},
      {.name = "chatml", .render = render_chatml, .match = match_chatml, .end_of_turn = {kEnd}},
  };
}

}  // namespace halo::chat
