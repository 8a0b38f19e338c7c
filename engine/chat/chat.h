// Chat templates: the prompt a chat model expects for a list of messages.
//
// A model's tokenizer.chat_template is a Jinja template. halod does not run
// Jinja: it recognises the common families by the template's text and renders
// them natively, byte for byte as Hugging Face transformers renders the
// original (../shared/fixtures/chat). The families and their names for the
// `template` option are in engine/chat/styles.cpp.
//
// A rendered prompt comes in pieces: the template's own text, where special
// tokens such as <|im_start|> are recognised, and the messages' text, where
// they never are, so a message cannot forge a turn (engine/chat/turn.h).
#pragma once
#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace halo {
class Tokenizer;
namespace gguf { class File; }
}  // namespace halo

namespace halo::chat {

struct Message {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct RenderOptions {
  bool add_generation_prompt = true;  // end with the header of the assistant's answer
  std::string bos_token, eos_token;   // the vocabulary's texts (empty: none)
  std::tm now{};                      // today, for templates that print the date
};

struct Piece {
  std::string text;
  bool from_template = false;  // the template's own text: special tokens recognised
};

struct Prompt {
  std::vector<Piece> pieces;
  std::string text() const;  // what the model sees, as one string
};

struct Style;  // a family's renderer (engine/chat/styles.h)

// The values a family's templates differ in, read from the template text.
struct StyleParams {
  std::string default_system = {};    // ChatML: the system message used when there is none
  std::string date = {};              // Llama 3.1: "Today Date"; empty: from RenderOptions::now
  std::string generation_prompt = {}; // GLM-4: the text after the last turn
  bool think_prompt = false;          // DeepSeek-R1: the answer opens with <think>\n
  bool skip_empty_system = false;  // Phi-3.5: a system message without text is left out
};

class Template {
 public:
  // The family of a template's text; throws Error(InvalidArgument) when it
  // matches none (the message quotes the template's start).
  static Template recognise(std::string_view jinja);
  static std::optional<Template> try_recognise(std::string_view jinja);
  // A family by name (Template::names()); throws Error(InvalidArgument).
  static Template named(std::string_view name);
  static std::string names();  // "chatml, qwen3, ...", for error messages

  std::string_view name() const;
  // Throws Error(InvalidArgument) for messages the family refuses (a role it
  // lacks, roles out of order, no messages), as the original template raises.
  Prompt render(const std::vector<Message>& messages, const RenderOptions& options) const;
  // Texts that end the assistant's turn.
  std::span<const std::string_view> end_of_turn() const;
  // Texts the vocabulary takes for the end of generation that do not end a
  // turn in this family (gpt-oss: <|end|> closes one channel of the answer).
  std::span<const std::string_view> not_end_of_turn() const;
  // The answer has channels (gpt-oss harmony: reasoning, then the final text).
  bool has_channels() const;

 private:
  Template(const Style& style, StyleParams params) : style_(&style), params_(std::move(params)) {}
  const Style* style_;
  StyleParams params_;
};

// The template a model is chatted with: the family named by `family` when it
// is not empty, else the model's tokenizer.chat_template recognised. Throws
// Error(InvalidArgument) naming the model when it has no template or one of
// no known family, saying how to name one.
Template model_template(const gguf::File& file, std::string_view model_name, std::string_view family);

// bos_token and eos_token from the vocabulary, and today's local date.
RenderOptions render_options(const Tokenizer& tokenizer, bool add_generation_prompt = true);

}  // namespace halo::chat
