#include "engine/chat/styles.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"

namespace halo::chat {
namespace {

constexpr size_t kQuotedStart = 60;  // characters of an unknown template quoted in the error
// Real templates take up to some tens of KiB; a model file's larger one is
// not read at every chat.
constexpr size_t kLargestTemplate = 1 << 20;

std::string quoted_start(std::string_view jinja) {
  std::string start(jinja.substr(0, kQuotedStart));
  for (char& c : start)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return "'" + start + (jinja.size() > kQuotedStart ? "...'" : "'");
}

const Style* find_style(std::string_view name) {
  for (const Style& s : all_styles())
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace

PromptBuilder& PromptBuilder::fixed(std::string_view text) { return add(text, true); }
PromptBuilder& PromptBuilder::content(std::string_view text) { return add(text, false); }

PromptBuilder& PromptBuilder::add(std::string_view text, bool from_template) {
  if (text.empty()) return *this;
  if (!prompt_.pieces.empty() && prompt_.pieces.back().from_template == from_template) {
    prompt_.pieces.back().text.append(text);
  } else {
    prompt_.pieces.push_back({std::string(text), from_template});
  }
  return *this;
}

std::string Prompt::text() const {
  std::string out;
  for (const Piece& p : pieces) out += p.text;
  return out;
}

const std::vector<Style>& all_styles() {
  static const std::vector<Style> styles = [] {
    std::vector<Style> all;
    for (auto family : {harmony_styles, turn_styles, llama_styles, chatml_styles}) {
      std::vector<Style> more = family();
      all.insert(all.end(), more.begin(), more.end());
    }
    return all;
  }();
  return styles;
}

void refuse(std::string_view style, std::string_view why) {
  throw Error(ErrorKind::InvalidArgument, "the " + std::string(style) + " chat template refuses these messages: " +
                                              std::string(why));
}

void require_alternation(Messages messages, std::string_view style) {
  for (size_t i = 0; i < messages.size(); ++i) {
    if ((messages[i].role == "user") != (i % 2 == 0))
      refuse(style, "after the optional system message, roles must alternate user/assistant/user/...");
  }
}

bool is_system(const Message& m) { return m.role == "system"; }

SystemSplit split_system(Messages messages) {
  if (messages.empty() || !is_system(messages[0])) return {nullptr, messages};
  return {&messages[0], messages.subspan(1)};
}

std::optional<Template> Template::try_recognise(std::string_view jinja) {
  const text::TemplateText text = text::read_template(jinja);
  for (const Style& style : all_styles()) {
    StyleParams params = style.defaults;
    if (style.match(text, params)) return Template(style, std::move(params));
  }
  return std::nullopt;
}

Template Template::recognise(std::string_view jinja) {
  if (auto t = try_recognise(jinja)) return *t;
  throw Error(ErrorKind::InvalidArgument, "the chat template " + quoted_start(jinja) +
                                              " is of no family halod renders; name one of " + names());
}

Template Template::named(std::string_view name) {
  const Style* style = find_style(name);
  if (!style)
    throw Error(ErrorKind::InvalidArgument,
                "'" + std::string(name) + "' is not a chat template family; known: " + names());
  return Template(*style, style->defaults);
}

std::string Template::names() {
  std::vector<std::string_view> sorted;
  for (const Style& s : all_styles()) sorted.push_back(s.name);
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (std::string_view name : sorted) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

std::string_view Template::name() const { return style_->name; }
std::span<const std::string_view> Template::end_of_turn() const { return style_->end_of_turn; }
std::span<const std::string_view> Template::not_end_of_turn() const { return style_->not_end_of_turn; }
bool Template::has_channels() const { return style_->channels; }

Prompt Template::render(const std::vector<Message>& messages, const RenderOptions& options) const {
  if (messages.empty()) throw Error(ErrorKind::InvalidArgument, "a chat needs at least one message");
  for (const Message& m : messages) {
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      throw Error(ErrorKind::InvalidArgument,
                  "a message's role must be system, user or assistant; got '" + m.role + "'");
  }
  PromptBuilder out;
  style_->render(messages, options, params_, out);
  return out.take();
}

Template model_template(const gguf::File& file, std::string_view model_name, std::string_view family) {
  if (!family.empty()) return Template::named(family);
  const std::string how = "; name its family with the template option (" + Template::names() + ")";
  const gguf::Value* v = file.find("tokenizer.chat_template");
  if (!v || v->type != gguf::ValueType::String || v->str.empty())
    throw Error(ErrorKind::InvalidArgument,
                "model '" + std::string(model_name) + "' has no chat template (tokenizer.chat_template)" + how);
  if (v->str.size() > kLargestTemplate)
    throw Error(ErrorKind::InvalidArgument, "model '" + std::string(model_name) + "': its chat template is " +
                                                std::to_string(v->str.size()) + " bytes, more than any family's" + how);
  if (auto t = Template::try_recognise(v->str)) return *t;
  throw Error(ErrorKind::InvalidArgument, "model '" + std::string(model_name) + "': its chat template " +
                                              quoted_start(v->str) + " is of no family halod renders" + how);
}

RenderOptions render_options(const Tokenizer& tokenizer, bool add_generation_prompt) {
  RenderOptions o;
  o.add_generation_prompt = add_generation_prompt;
  if (tokenizer.bos() >= 0) o.bos_token = tokenizer.piece(tokenizer.bos(), true);
  if (tokenizer.eos() >= 0) o.eos_token = tokenizer.piece(tokenizer.eos(), true);
  const std::time_t now = std::time(nullptr);
  localtime_r(&now, &o.now);
  return o;
}

}  // namespace halo::chat
