// Families with a marker per role.
//   gemma, gemma3  <start_of_turn>user|model\n TEXT<end_of_turn>\n; Gemma 1 and 2
//                  refuse a system message, Gemma 3 joins it to the first question
//   phi3           Phi-3 and 3.5: <|user|>\n TEXT<|end|>\n
//   phi4-mini      <|user|>TEXT<|end|>, no newlines
//   deepseek-r1    DeepSeek-R1 and its distills: <｜User｜>TEXT<｜Assistant｜>ANSWER<｜end▁of▁sentence｜>,
//                  earlier answers without their thinking
//   glm4, glm4.5   [gMASK]<sop><|user|>\nTEXT<|assistant|>\nANSWER; GLM-4.5 marks
//                  thinking with <think></think>
#include "engine/chat/styles.h"

namespace halo::chat {
namespace {

using text::TemplateText;

// --- Gemma -------------------------------------------------------------------

// Gemma 3 opens the first turn with the system message, if any, and "\n\n".
void gemma_turns(Messages messages, const Message* system, const RenderOptions& o, PromptBuilder& out) {
  for (size_t i = 0; i < messages.size(); ++i) {
    const Message& m = messages[i];
    out.fixed("<start_of_turn>").fixed(m.role == "assistant" ? "model" : m.role).fixed("\n");
    if (i == 0 && system) out.content(system->content).fixed("\n\n");
    out.content(text::strip(m.content)).fixed("<end_of_turn>\n");
  }
  if (o.add_generation_prompt) out.fixed("<start_of_turn>model\n");
}

bool match_gemma(const TemplateText& t, StyleParams&) {
  return t.literal_contains("<start_of_turn>") && t.mentions("System role not supported");
}

void render_gemma(Messages messages, const RenderOptions& o, const StyleParams&, PromptBuilder& out) {
  out.fixed(o.bos_token);
  if (is_system(messages[0])) refuse("gemma", "it has no system role (gemma3 has one)");
  require_alternation(messages, "gemma");
  gemma_turns(messages, nullptr, o, out);
}

bool match_gemma3(const TemplateText& t, StyleParams&) {
  return t.literal_contains("<start_of_turn>") && t.mentions("first_user_prefix");
}

void render_gemma3(Messages messages, const RenderOptions& o, const StyleParams&, PromptBuilder& out) {
  const SystemSplit s = split_system(messages);
  require_alternation(s.rest, "gemma3");
  out.fixed(o.bos_token);
  gemma_turns(s.rest, s.system, o, out);
}

// --- Phi-3 -------------------------------------------------------------------

bool match_phi3(const TemplateText& t, StyleParams& p) {
  if (!t.has_literal("<|user|>\n") || !t.literal_contains("<|end|>") || !t.mentions("add_generation_prompt") ||
      t.mentions("bos_token"))
    return false;
  p.skip_empty_system = t.mentions("'system' and message['content']");
  return true;
}

void render_phi3(Messages messages, const RenderOptions& o, const StyleParams& p, PromptBuilder& out) {
  for (const Message& m : messages) {
    if (is_system(m) && p.skip_empty_system && m.content.empty()) continue;
    out.fixed("<|").fixed(m.role).fixed("|>\n").content(m.content).fixed("<|end|>\n");
  }
  out.fixed(o.add_generation_prompt ? std::string_view("<|assistant|>\n") : std::string_view(o.eos_token));
}

bool match_phi4_mini(const TemplateText& t, StyleParams&) {
  return t.has_literal("<|system|>") && t.has_literal("<|end|>") && t.has_literal("<|assistant|>") &&
         t.has_literal("<|");
}

void render_phi4_mini(Messages messages, const RenderOptions& o, const StyleParams&, PromptBuilder& out) {
  if (is_system(messages[0])) out.fixed("<|system|>").content(messages[0].content).fixed("<|end|>");
  for (const Message& m : messages) {
    if (!is_system(m)) out.fixed("<|").fixed(m.role).fixed("|>").content(m.content).fixed("<|end|>");
  }
  out.fixed(o.add_generation_prompt ? std::string_view("<|assistant|>") : std::string_view(o.eos_token));
}

// --- DeepSeek-R1 ---------------------------------------------------------------

bool match_deepseek_r1(const TemplateText& t, StyleParams& p) {
  if (!t.literal_contains("<｜User｜>") || !t.literal_contains("<｜Assistant｜>")) return false;
  p.think_prompt = t.literal_contains("<｜Assistant｜><think>\n");
  return true;
}

void render_deepseek_r1(Messages messages, const RenderOptions& o, const StyleParams& p, PromptBuilder& out) {
  out.fixed(o.bos_token);
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (is_system(*it)) {  // the last system message, before everything
      out.content(it->content);
      break;
    }
  }
  for (const Message& m : messages) {
    if (m.role == "user") out.fixed("<｜User｜>").content(m.content);
    if (m.role == "assistant")
      out.fixed("<｜Assistant｜>").content(text::after_last(m.content, "</think>")).fixed("<｜end▁of▁sentence｜>");
  }
  if (o.add_generation_prompt) out.fixed(p.think_prompt ? "<｜Assistant｜><think>\n" : "<｜Assistant｜>");
}

// --- GLM-4 -----------------------------------------------------------------------

bool is_glm(const TemplateText& t) { return t.mentions("[gMASK]") && t.mentions("<sop>"); }

// The text the template prints for the generation prompt: what follows
// `{% if add_generation_prompt %}` up to the next tag (trim_blocks drops a
// newline right after the tag).
std::string generation_prompt_of(std::string_view source) {
  const size_t tag = source.rfind("add_generation_prompt");
  const size_t open = tag == std::string_view::npos ? tag : source.find("%}", tag);
  if (open == std::string_view::npos) return {};
  const size_t end = source.find("{", open + 2);
  std::string_view raw = source.substr(open + 2, end == std::string_view::npos ? std::string_view::npos : end - open - 2);
  if (!raw.empty() && raw[0] == '\n') raw.remove_prefix(1);
  return std::string(raw);
}

bool match_glm4(const TemplateText& t, StyleParams& p) {
  if (!is_glm(t) || t.mentions("<think>")) return false;
  p.generation_prompt = generation_prompt_of(t.source);
  return p.generation_prompt.rfind("<|assistant|>", 0) == 0;
}

void render_glm4(Messages messages, const RenderOptions& o, const StyleParams& p, PromptBuilder& out) {
  out.fixed("[gMASK]<sop>");
  for (const Message& m : messages) {
    if (!m.content.empty()) out.fixed("<|").fixed(m.role).fixed("|>\n").content(m.content);
  }
  if (o.add_generation_prompt) out.fixed(p.generation_prompt);
}

bool match_glm45(const TemplateText& t, StyleParams&) {
  return is_glm(t) && t.literal_contains("<think></think>");
}

void glm45_answer(PromptBuilder& out, const Message& m, bool after_last_question) {
  std::string_view content = m.content, reasoning;
  if (text::contains(content, "</think>")) {
    reasoning = text::lstrip(text::after_last(text::rstrip(text::before_first(m.content, "</think>"), "\n"), "<think>"), "\n");
    content = text::lstrip(text::after_last(m.content, "</think>"), "\n");
  }
  out.fixed("<|assistant|>");
  if (after_last_question && !reasoning.empty()) {
    out.fixed("\n<think>").content(text::strip(reasoning)).fixed("</think>");
  } else {
    out.fixed("\n<think></think>");
  }
  if (!text::strip(content).empty()) out.fixed("\n").content(text::strip(content));
}

void render_glm45(Messages messages, const RenderOptions& o, const StyleParams&, PromptBuilder& out) {
  size_t last_user = messages.size();  // none
  for (size_t i = 0; i < messages.size(); ++i)
    if (messages[i].role == "user") last_user = i;
  out.fixed("[gMASK]<sop>");
  for (size_t i = 0; i < messages.size(); ++i) {
    const Message& m = messages[i];
    if (m.role == "user") out.fixed("<|user|>").content(m.content);
    if (m.role == "assistant") glm45_answer(out, m, last_user == messages.size() || i > last_user);
    if (is_system(m)) out.fixed("<|system|>\n").content(m.content);
  }
  if (o.add_generation_prompt) out.fixed("<|assistant|>");
}

}  // namespace

std::vector<Style> turn_styles() {
  const std::vector<std::string_view> glm_ends = {"<|user|>", "<|observation|>"};
  return {
      {.name = "deepseek-r1", .render = render_deepseek_r1, .match = match_deepseek_r1,
       .end_of_turn = {"<｜end▁of▁sentence｜>"}, .defaults = {.think_prompt = true}},
      {.name = "glm4.5", .render = render_glm45, .match = match_glm45, .end_of_turn = glm_ends},
      {.name = "glm4", .render = render_glm4, .match = match_glm4, .end_of_turn = glm_ends,
       .defaults = {.generation_prompt = "<|assistant|>"}},
      {.name = "gemma3", .render = render_gemma3, .match = match_gemma3, .end_of_turn = {"<end_of_turn>"}},
      {.name = "gemma", .render = render_gemma, .match = match_gemma, .end_of_turn = {"<end_of_turn>"}},
      {.name = "phi3", .render = render_phi3, .match = match_phi3, .end_of_turn = {"<|end|>"},
       .defaults = {.skip_empty_system = true}},
      {.name = "phi4-mini", .render = render_phi4_mini, .match = match_phi4_mini, .end_of_turn = {"<|end|>"}},
  };
}

}  // namespace halo::chat
