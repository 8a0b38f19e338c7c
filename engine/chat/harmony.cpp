#include "engine/chat/harmony.h"

#include <ctime>

#include "engine/chat/styles.h"
#include "engine/tokenizer/tokenizer.h"

namespace halo::chat {
namespace {

constexpr size_t kLongestChannelName = 64;  // of a header; more is not a channel halod knows

using text::TemplateText;

bool match_harmony(const TemplateText& t, StyleParams&) {
  return t.literal_contains("<|start|>") && t.literal_contains("<|channel|>") && t.literal_contains("<|message|>");
}

std::string iso_date(const std::tm& now) {
  char buf[16];
  return std::strftime(buf, sizeof buf, "%Y-%m-%d", &now) ? buf : "";
}

void render_harmony(Messages messages, const RenderOptions& o, const StyleParams&, PromptBuilder& out) {
  out.fixed("<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n");
  out.fixed("Knowledge cutoff: 2024-06\nCurrent date: ").fixed(iso_date(o.now)).fixed("\n\nReasoning: medium\n\n");
  out.fixed("# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>");
  const SystemSplit s = split_system(messages);  // the first system message is the developer's instructions
  if (s.system && !s.system->content.empty())
    out.fixed("<|start|>developer<|message|># Instructions\n\n").content(s.system->content).fixed("\n\n<|end|>");
  for (size_t i = 0; i < s.rest.size(); ++i) {
    const Message& m = s.rest[i];
    if (m.role == "user") out.fixed("<|start|>user<|message|>").content(m.content).fixed("<|end|>");
    if (m.role != "assistant") continue;  // later system messages: the template prints nothing
    if (text::contains(m.content, "<|channel|>analysis<|message|>") ||
        text::contains(m.content, "<|channel|>final<|message|>"))
      refuse("harmony", "an answer's text holds channel markers; pass only its final text");
    const bool closes_chat = i + 1 == s.rest.size() && !o.add_generation_prompt;
    out.fixed("<|start|>assistant<|channel|>final<|message|>").content(m.content);
    out.fixed(closes_chat ? "<|return|>" : "<|end|>");
  }
  if (o.add_generation_prompt) out.fixed("<|start|>assistant");
}

}  // namespace

std::vector<Style> harmony_styles() {
  return {{.name = "harmony",
           .render = render_harmony,
           .match = match_harmony,
           .end_of_turn = {"<|return|>", "<|call|>"},
           .not_end_of_turn = {"<|end|>"},
           .channels = true}};
}

int32_t single_token(const Tokenizer& tokenizer, std::string_view marker) {
  const std::vector<int32_t> ids = tokenizer.encode(marker, false, true);
  return ids.size() == 1 ? ids[0] : -1;
}

std::optional<HarmonyRouter> HarmonyRouter::for_vocabulary(const Tokenizer& tokenizer) {
  HarmonyRouter r(tokenizer);
  r.start_ = single_token(tokenizer, "<|start|>");
  r.channel_ = single_token(tokenizer, "<|channel|>");
  r.message_ = single_token(tokenizer, "<|message|>");
  r.end_ = single_token(tokenizer, "<|end|>");
  r.constrain_ = single_token(tokenizer, "<|constrain|>");
  if (r.start_ < 0 || r.channel_ < 0 || r.message_ < 0 || r.end_ < 0) return std::nullopt;
  return r;
}

TextChannel HarmonyRouter::route(int32_t token) {
  if (token == start_ || token == end_) {  // a message ends; the next header follows
    state_ = State::Header;
    reading_channel_ = false;
    channel_name_.clear();
    return TextChannel::Hidden;
  }
  if (state_ == State::Body) return body_;
  if (token == channel_) {
    reading_channel_ = true;
  } else if (token == constrain_) {
    reading_channel_ = false;
  } else if (token == message_) {
    // "<|channel|>commentary to=functions.f": the channel is the first word.
    const std::string name = channel_name_.substr(0, channel_name_.find(' '));
    body_ = name == "final" || name.empty() ? TextChannel::Answer : TextChannel::Reasoning;
    state_ = State::Body;
  } else if (reading_channel_ && channel_name_.size() < kLongestChannelName) {
    channel_name_ += tok_->piece(token);
  }
  return TextChannel::Hidden;
}

}  // namespace halo::chat
