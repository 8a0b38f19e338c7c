// A rendered chat prompt bound to a model's vocabulary, and the generation
// of the assistant's answer to it.
//
// The template's own text is tokenized with special-token parsing on and the
// messages' text with it off (Tokenizer::encode_spans), so a message that
// spells <|im_end|> stays plain text. BOS is added as the vocabulary asks
// unless the template already begins with it. Generation ends on the
// template's end-of-turn tokens as well as the vocabulary's end tokens; an
// end marker that is no single token of the vocabulary becomes a stop string.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/chat/chat.h"
#include "engine/session/session.h"

namespace halo {
class Tokenizer;
}

namespace halo::chat {

struct Turn {
  std::vector<int32_t> tokens;          // the prompt
  std::vector<int32_t> end_tokens;      // generation ends on any of these
  std::vector<std::string> end_texts;   // or before any of these texts
  bool channels = false;                // the answer is split into reasoning and final text
};

Turn prepare_turn(const Template& tmpl, const Prompt& prompt, const Tokenizer& tokenizer);

// Generates the answer to a turn: its final text to on_text, its reasoning
// (templates with channels) to on_reasoning. params.end_tokens is replaced
// and params.stop extended by the turn's.
GenerateStats generate_turn(Session& session, const Tokenizer& tokenizer, const Turn& turn, GenerateParams params,
                            const TokenCallback& on_text, const TokenCallback& on_reasoning);

}  // namespace halo::chat
