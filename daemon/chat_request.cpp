#include "daemon/chat_request.h"

#include "daemon/errors.h"
#include "daemon/request_queue.h"
#include "engine/chat/turn.h"
#include "engine/error.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace halod {

std::vector<halo::chat::Message> checked_messages(const ChatMessages& messages, uint64_t max_bytes) {
  if (messages.empty()) errors::fail(errors::kInvalidArgument, "A chat needs at least one message");
  if (messages.size() > kMaxChatMessages)
    errors::fail(errors::kInvalidArgument, "A chat holds at most " + std::to_string(kMaxChatMessages) +
                                               " messages; got " + std::to_string(messages.size()));
  std::vector<halo::chat::Message> out;
  out.reserve(messages.size());
  uint64_t total = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& role = messages[i].get<0>();
    const std::string& content = messages[i].get<1>();
    const std::string which = "Message " + std::to_string(i);
    if (role != "system" && role != "user" && role != "assistant")
      errors::fail(errors::kInvalidArgument, which + ": the role must be system, user or assistant; got '" +
                                                 (is_valid_utf8(role) && role.size() <= 64 ? role : "...") + "'");
    if (!is_valid_utf8(content)) errors::fail(errors::kInvalidArgument, which + ": the text is not valid UTF-8");
    total += content.size();
    if (total > max_bytes)
      errors::fail(errors::kInvalidArgument, "The messages' text is more than the limit (max_prompt_bytes) of " +
                                                 std::to_string(max_bytes) + " bytes");
    out.push_back({role, content});
  }
  return out;
}

std::string take_template_option(VariantMap& options) {
  auto it = options.find("template");
  if (it == options.end()) return {};
  if (it->second.peekValueType() != "s")
    errors::fail(errors::kInvalidArgument,
                 "Option 'template' must have type 's', not '" + it->second.peekValueType() + "'");
  std::string family = it->second.get<std::string>();
  if (family.empty()) errors::fail(errors::kInvalidArgument, "Option 'template' names a family; it is empty");
  options.erase(it);
  return family;
}

ChatRequest render_chat(const halo::Model& model, const std::string& model_name,
                        const std::vector<halo::chat::Message>& messages, const std::string& family) {
  halo::chat::Template tmpl = halo::chat::model_template(model.gguf(), model_name, family);
  halo::chat::Prompt prompt = tmpl.render(messages, halo::chat::render_options(model.tokenizer()));
  return {std::move(tmpl), std::move(prompt)};
}

halo::GenerateStats generate_chat(const halo::Model& model, halo::Session& session, uint32_t n_ctx,
                                  const Request& request, const halo::TokenCallback& on_text,
                                  const halo::TokenCallback& on_reasoning) {
  const halo::Tokenizer& tok = model.tokenizer();
  const halo::chat::Turn turn = halo::chat::prepare_turn(request.chat->tmpl, request.chat->prompt, tok);
  if (turn.tokens.size() + 1 > n_ctx)
    throw halo::Error(halo::ErrorKind::InvalidArgument,
                      "The conversation is " + std::to_string(turn.tokens.size()) +
                          " tokens; the model's context holds " + std::to_string(n_ctx) +
                          " with room for the answer; drop earlier messages or load the model with a larger "
                          "context_length");
  return halo::chat::generate_turn(session, tok, turn, request.params, on_text, on_reasoning);
}

}  // namespace halod
