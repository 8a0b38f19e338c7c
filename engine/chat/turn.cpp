#include "engine/chat/turn.h"

#include <algorithm>

#include "engine/chat/harmony.h"
#include "engine/tokenizer/tokenizer.h"

namespace halo::chat {

Turn prepare_turn(const Template& tmpl, const Prompt& prompt, const Tokenizer& tokenizer) {
  Turn turn;
  std::vector<Tokenizer::Span> spans;
  spans.reserve(prompt.pieces.size());
  for (const Piece& p : prompt.pieces) spans.push_back({p.text, p.from_template});
  turn.tokens = tokenizer.encode_spans(spans);
  if (tokenizer.add_bos_default() && (turn.tokens.empty() || turn.tokens.front() != tokenizer.bos()))
    turn.tokens.insert(turn.tokens.begin(), tokenizer.bos());

  turn.end_tokens = tokenizer.eog_tokens();
  for (std::string_view marker : tmpl.not_end_of_turn()) {
    const int32_t id = single_token(tokenizer, marker);
    std::erase(turn.end_tokens, id);
  }
  for (std::string_view marker : tmpl.end_of_turn()) {
    const int32_t id = single_token(tokenizer, marker);
    if (id < 0) {
      turn.end_texts.emplace_back(marker);
    } else if (std::find(turn.end_tokens.begin(), turn.end_tokens.end(), id) == turn.end_tokens.end()) {
      turn.end_tokens.push_back(id);
    }
  }
  turn.channels = tmpl.has_channels() && HarmonyRouter::for_vocabulary(tokenizer).has_value();
  return turn;
}

GenerateStats generate_turn(Session& session, const Tokenizer& tokenizer, const Turn& turn, GenerateParams params,
                            const TokenCallback& on_text, const TokenCallback& on_reasoning) {
  params.end_tokens = turn.end_tokens;
  params.stop.insert(params.stop.end(), turn.end_texts.begin(), turn.end_texts.end());
  std::optional<HarmonyRouter> router = turn.channels ? HarmonyRouter::for_vocabulary(tokenizer) : std::nullopt;
  if (!router) return session.generate(turn.tokens, params, on_text);
  ChannelSplit split{[&router](int32_t token) { return router->route(token); }, on_reasoning};
  return session.generate(turn.tokens, params, on_text, &split);
}

}  // namespace halo::chat
