// Meta's and Mistral's families.
//   llama3             Llama 3: <|start_header_id|>ROLE<|end_header_id|>\n\n TEXT<|eot_id|>
//   llama3.1           Llama 3.1 to 3.3: the same after a system block with the
//                      knowledge cutoff and today's date (3.2 prints the real date)
//   llama2             Llama 2: <s>[INST] <<SYS>>\n...\n<</SYS>>\n\nTEXT [/INST] ANSWER </s>
//   mistral-v1         Mistral 7B v0.2 style: " [INST] TEXT [/INST] ANSWER</s>", the
//                      system message joined to the first question
//   mistral-v3         "[INST] TEXT[/INST] ANSWER</s>", the system message joined to
//                      the last question; mistral-v3-tekken (Nemo) without the spaces
// None of them ends with a generation prompt except Llama 3.
#include "engine/chat/styles.h"

#include <ctime>

namespace halo::chat {
namespace {

using text::TemplateText;

// --- Llama 3 ---------------------------------------------------------------

void header(PromptBuilder& out, std::string_view role) {
  out.fixed("<|start_header_id|>").fixed(role).fixed("<|end_header_id|>\n\n");
}

void llama3_turn(PromptBuilder& out, const Message& m) {
  header(out, m.role);
  out.content(text::strip(m.content)).fixed("<|eot_id|>");
}

bool match_llama3(const TemplateText& t, StyleParams&) {
  return t.literal_contains("<|start_header_id|>") && t.literal_contains("<|eot_id|>") &&
         !t.mentions("Cutting Knowledge Date");
}

void render_llama3(Messages messages, const RenderOptions& o, const StyleParams&, PromptBuilder& out) {
  out.fixed(o.bos_token);
  for (const Message& m : messages) llama3_turn(out, m);
  if (o.add_generation_prompt) header(out, "assistant");
}

// The text of the literal assigned by `set date_string = "..."`, or empty.
std::string date_string_of(std::string_view source) {
  const size_t at = source.find("date_string = ");
  if (at == std::string_view::npos) return {};
  const size_t open = at + 14;
  if (open >= source.size() || (source[open] != '"' && source[open] != '\'')) return {};
  const size_t close = source.find(source[open], open + 1);
  return close == std::string_view::npos ? std::string() : std::string(source.substr(open + 1, close - open - 1));
}

bool match_llama31(const TemplateText& t, StyleParams& p) {
  if (!t.literal_contains("<|start_header_id|>") || !t.mentions("Cutting Knowledge Date")) return false;
  // Llama 3.2 prints today's date where the caller provides strftime_now
  // (transformers does); 3.1 and 3.3 print a fixed one.
  p.date = t.mentions("strftime_now") ? std::string() : date_string_of(t.source);
  if (p.date.empty() && !t.mentions("strftime_now")) p.date = "26 Jul 2024";
  return true;
}

std::string today(const std::tm& now) {
  char buf[32];
  return std::strftime(buf, sizeof buf, "%d %b %Y", &now) ? buf : "";
}

void render_llama31(Messages messages, const RenderOptions& o, const StyleParams& p, PromptBuilder& out) {
  const SystemSplit s = split_system(messages);
  out.fixed(o.bos_token);
  header(out, "system");
  out.fixed("Cutting Knowledge Date: December 2023\nToday Date: ").fixed(p.date.empty() ? today(o.now) : p.date);
  out.fixed("\n\n");
  if (s.system) out.content(text::strip(s.system->content));
  out.fixed("<|eot_id|>");
  for (const Message& m : s.rest) llama3_turn(out, m);
  if (o.add_generation_prompt) header(out, "assistant");
}

// --- Llama 2 and Mistral ------------------------------------------------------

bool match_llama2(const TemplateText& t, StyleParams&) {
  return t.literal_contains("<<SYS>>") && t.literal_contains("[INST]");
}

void render_llama2(Messages messages, const RenderOptions& o, const StyleParams&, PromptBuilder& out) {
  const SystemSplit s = split_system(messages);
  require_alternation(s.rest, "llama2");
  for (size_t i = 0; i < s.rest.size(); ++i) {
    const Message& m = s.rest[i];
    if (m.role == "user") {
      out.fixed(o.bos_token).fixed("[INST] ");
      if (i == 0 && s.system) {
        // The template strips "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + question as one text.
        const std::string_view question = text::rstrip(m.content);
        out.fixed("<<SYS>>\n").content(s.system->content).fixed(question.empty() ? "\n<</SYS>>" : "\n<</SYS>>\n\n");
        out.content(question);
      } else {
        out.content(text::strip(m.content));
      }
      out.fixed(" [/INST]");
    } else if (m.role == "assistant") {
      out.fixed(" ").content(text::strip(m.content)).fixed(" ").fixed(o.eos_token);
    }  // a system message at an odd position: the template prints nothing
  }
}

bool match_mistral_v1(const TemplateText& t, StyleParams&) {
  return t.has_literal(" [INST] ") && t.has_literal(" [/INST]") && !t.literal_contains("<<SYS>>");
}

void refuse_roles(std::string_view style) {
  refuse(style, "only user and assistant messages may follow the optional first system message");
}

void render_mistral_v1(Messages messages, const RenderOptions& o, const StyleParams&, PromptBuilder& out) {
  const SystemSplit s = split_system(messages);
  require_alternation(s.rest, "mistral-v1");
  out.fixed(o.bos_token);
  for (size_t i = 0; i < s.rest.size(); ++i) {
    const Message& m = s.rest[i];
    if (m.role == "user") {
      out.fixed(" [INST] ");
      if (i == 0 && s.system) out.content(s.system->content).fixed("\n\n");
      out.content(m.content).fixed(" [/INST]");
    } else if (m.role == "assistant") {
      out.fixed(" ").content(m.content).fixed(o.eos_token);
    } else {
      refuse_roles("mistral-v1");
    }
  }
}

bool match_mistral_v3(const TemplateText& t, StyleParams&) {
  return t.has_literal("[INST] ") && t.has_literal("[/INST]") && t.literal_contains("[AVAILABLE_TOOLS]");
}

bool match_mistral_tekken(const TemplateText& t, StyleParams&) {
  return t.has_literal("[INST]") && t.has_literal("[/INST]") && t.literal_contains("[AVAILABLE_TOOLS]");
}

void render_mistral_v3_like(Messages messages, const RenderOptions& o, bool tekken, PromptBuilder& out) {
  const std::string_view name = tekken ? "mistral-v3-tekken" : "mistral-v3";
  const SystemSplit s = split_system(messages);
  require_alternation(s.rest, name);
  out.fixed(o.bos_token);
  for (size_t i = 0; i < s.rest.size(); ++i) {
    const Message& m = s.rest[i];
    if (m.role == "user") {
      out.fixed(tekken ? "[INST]" : "[INST] ");
      if (i + 1 == s.rest.size() && s.system) out.content(s.system->content).fixed("\n\n");
      out.content(m.content).fixed("[/INST]");
    } else if (m.role == "assistant") {
      if (tekken) {
        out.content(m.content).fixed(o.eos_token);
      } else {
        out.fixed(" ").content(text::strip(m.content)).fixed(o.eos_token);
      }
    } else {
      refuse_roles(name);
    }
  }
}

void render_mistral_v3(Messages messages, const RenderOptions& o, const StyleParams&, PromptBuilder& out) {
  render_mistral_v3_like(messages, o, false, out);
}

void render_mistral_tekken(Messages messages, const RenderOptions& o, const StyleParams&, PromptBuilder& out) {
  render_mistral_v3_like(messages, o, true, out);
}

}  // namespace

std::vector<Style> llama_styles() {
  return {
      {.name = "llama3.1", .render = render_llama31, .match = match_llama31,
       .end_of_turn = {"<|eot_id|>", "<|eom_id|>"}, .defaults = {.date = "26 Jul 2024"}},
      {.name = "llama3", .render = render_llama3, .match = match_llama3, .end_of_turn = {"<|eot_id|>", "<|eom_id|>"}},
      {.name = "llama2", .render = render_llama2, .match = match_llama2, .end_of_turn = {}},
      {.name = "mistral-v1", .render = render_mistral_v1, .match = match_mistral_v1, .end_of_turn = {}},
      {.name = "mistral-v3", .render = render_mistral_v3, .match = match_mistral_v3, .end_of_turn = {}},
      {.name = "mistral-v3-tekken", .render = render_mistral_tekken, .match = match_mistral_tekken,
       .end_of_turn = {}},
  };
}

}  // namespace halo::chat
