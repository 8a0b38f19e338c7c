// gpt-oss's harmony format: an answer is a series of messages on channels,
//   <|channel|>analysis<|message|>REASONING<|end|><|start|>assistant<|channel|>final<|message|>ANSWER<|return|>
// HarmonyRouter follows the generated tokens and says where each one's text
// belongs: the final channel is the answer, the others are reasoning, and
// the headers between them are hidden.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "engine/session/session.h"

namespace halo {
class Tokenizer;
}

namespace halo::chat {

class HarmonyRouter {
 public:
  // Null when the vocabulary lacks harmony's markers as single tokens.
  static std::optional<HarmonyRouter> for_vocabulary(const Tokenizer& tokenizer);
  TextChannel route(int32_t token);

 private:
  explicit HarmonyRouter(const Tokenizer& tokenizer) : tok_(&tokenizer) {}

  enum class State { Header, Body };
  const Tokenizer* tok_;
  int32_t start_ = -1, channel_ = -1, message_ = -1, end_ = -1, constrain_ = -1;
  State state_ = State::Header;  // the prompt ends with <|start|>assistant
  bool reading_channel_ = false;
  std::string channel_name_;
  TextChannel body_ = TextChannel::Answer;
};

// A marker's token id when the vocabulary has it as one token, else -1.
int32_t single_token(const Tokenizer& tokenizer, std::string_view marker);

}  // namespace halo::chat
