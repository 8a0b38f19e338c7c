// Chat and ChatText (org.halod.Halod1.Model): what a chat request carries,
// the checks of a client's messages and options, and the generation of the
// answer on the worker. The bus methods are in bus_chat.cpp.
#pragma once
#include <sdbus-c++/Types.h>

#include <string>
#include <vector>

#include "daemon/options.h"
#include "engine/chat/chat.h"
#include "engine/session/session.h"

namespace halo {
class Model;
}

namespace halod {

struct Request;

inline constexpr size_t kMaxChatMessages = 1024;

using ChatMessages = std::vector<sdbus::Struct<std::string, std::string>>;

// The conversation of a request, rendered (cheap, on the loop) but not yet
// tokenized (on the worker, in generate_chat).
struct ChatRequest {
  halo::chat::Template tmpl;
  halo::chat::Prompt prompt;
};

// Checks a client's messages: at least one and at most kMaxChatMessages,
// roles system, user or assistant, valid UTF-8, their text together at most
// max_bytes. Throws sdbus::Error(InvalidArgument) naming the message.
std::vector<halo::chat::Message> checked_messages(const ChatMessages& messages, uint64_t max_bytes);

// Removes Chat's own option (template s: a family name) from options,
// leaving Generate's; returns it ("" when absent). Throws InvalidArgument
// for a wrong type.
std::string take_template_option(VariantMap& options);

// Renders messages with the model's chat template, or the family named.
// Throws InvalidArgument naming the model when it has none, or when the
// template refuses the messages.
ChatRequest render_chat(const halo::Model& model, const std::string& model_name,
                        const std::vector<halo::chat::Message>& messages, const std::string& family);

// Tokenizes the request's chat and generates the answer (worker thread):
// the final text to on_text, the reasoning (templates with channels) to
// on_reasoning. Throws halo::Error(InvalidArgument) when the prompt leaves
// no room for an answer in n_ctx.
halo::GenerateStats generate_chat(const halo::Model& model, halo::Session& session, uint32_t n_ctx,
                                  const Request& request, const halo::TokenCallback& on_text,
                                  const halo::TokenCallback& on_reasoning);

}  // namespace halod
