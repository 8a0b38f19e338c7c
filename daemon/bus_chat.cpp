// BusModel's Chat and ChatText: check the messages and options, render the
// conversation (cheap; it may be refused by the template), then authorize
// and queue like Generate. Tokenizing and generating run on the model's
// worker (daemon/chat_request.cpp).
#include "daemon/bus_model.h"
#include "daemon/errors.h"

namespace halod {

RequestPtr BusModel::make_chat_request(ResidentModel& m, const ChatMessages& messages, VariantMap options) {
  const ManagerSettings& settings = owner_.manager().settings();
  const std::vector<halo::chat::Message> checked = checked_messages(messages, settings.max_prompt_bytes);
  const std::string family = take_template_option(options);
  auto request = std::make_shared<Request>();
  request->params = parse_generate_options(options, settings.generate);
  request->chat = std::make_shared<const ChatRequest>(render_chat(*m.model, m.name, checked, family));
  request->id = owner_.next_request_id();
  request->sender = sender();
  return request;
}

void BusModel::Chat(sdbus::Result<sdbus::ObjectPath, sdbus::UnixFd>&& result, ChatMessages messages,
                    VariantMap options) {
  RequestPtr request =
      made_or_answered(result, [&] { return make_chat_request(loaded_model(), messages, std::move(options)); });
  if (request) queue_streamed(std::move(result), request);
}

void BusModel::ChatText(TextResult&& result, ChatMessages messages, VariantMap options) {
  RequestPtr request =
      made_or_answered(result, [&] { return make_chat_request(loaded_model(), messages, std::move(options)); });
  if (request) queue_text(std::move(result), request);
}

}  // namespace halod
