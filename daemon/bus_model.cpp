#include "daemon/bus_model.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/errors.h"
#include "daemon/log.h"
#include "engine/tokenizer/tokenizer.h"

namespace halod {

BusModel::BusModel(sdbus::IConnection& bus, BusManager& owner, uint64_t model_id)
    : AdaptorInterfaces(bus, BusManager::model_path(model_id)), owner_(owner), model_id_(model_id) {
  registerAdaptor();
}

BusModel::~BusModel() { unregisterAdaptor(); }

std::string BusModel::sender() const { return getObject().getCurrentlyProcessedMessage()->getSender(); }

std::string BusModel::State() { return std::string(model_state_name(model().state)); }

void BusModel::Unload(sdbus::Result<>&& result) {
  try {
    errors::guarded([&] { model(); });
  } catch (const sdbus::Error& e) {
    return result.returnError(e);
  }
  const std::string who = sender();
  owner_.authorize(std::move(result), who, "org.halod.unload", [owner = &owner_, id = model_id_, who](auto& reply) {
    owner->manager().unload(id, "unloaded by " + who);
    reply.returnResults();
  });
}

void BusModel::SwitchBackend(sdbus::Result<uint64_t>&& result, std::string backend) {
  try {
    errors::guarded([&] {
      if (backend != "cpu" && backend != "vulkan" && backend != "rocm")
        errors::fail(errors::kInvalidArgument, "Backend must be cpu, vulkan or rocm; got '" + backend + "'");
      loaded_model();
    });
  } catch (const sdbus::Error& e) {
    return result.returnError(e);
  }
  auto act = [owner = &owner_, id = model_id_, backend](auto& reply) {
    owner->loaded_model(id);
    reply.returnResults(owner->manager().switch_backend(id, backend));
  };
  owner_.authorize(std::move(result), sender(), "org.halod.configure", act);
}

std::vector<uint32_t> BusModel::Tokenize(const std::string& text) {
  return errors::guarded([&] {
    ResidentModel& m = loaded_model();
    if (text.size() > owner_.manager().settings().max_prompt_bytes)
      errors::fail(errors::kInvalidArgument, "The text is longer than the configured max_prompt_bytes");
    if (!is_valid_utf8(text)) errors::fail(errors::kInvalidArgument, "The text is not valid UTF-8");
    const halo::Tokenizer& tok = m.model->tokenizer();
    auto ids = tok.encode(text, tok.add_bos_default(), true);
    return std::vector<uint32_t>(ids.begin(), ids.end());
  });
}

std::string BusModel::Detokenize(const std::vector<uint32_t>& tokens) {
  return errors::guarded([&] {
    ResidentModel& m = loaded_model();
    const halo::Tokenizer& tok = m.model->tokenizer();
    halo::Detokenizer detok(tok);
    std::string text;
    for (uint32_t id : tokens) {
      if (id >= tok.n_vocab())
        errors::fail(errors::kInvalidArgument, "Token " + std::to_string(id) + " is outside the vocabulary (" +
                                                   std::to_string(tok.n_vocab()) + " tokens)");
      text += detok.push(static_cast<int32_t>(id));
    }
    // flush() turns a trailing partial character into U+FFFD: D-Bus strings
    // must be valid UTF-8.
    return text + detok.flush();
  });
}

RequestPtr BusModel::make_request(ResidentModel& m, const std::string& prompt, const VariantMap& options) {
  const ManagerSettings& settings = owner_.manager().settings();
  if (prompt.empty()) errors::fail(errors::kInvalidArgument, "The prompt is empty");
  if (prompt.size() > settings.max_prompt_bytes)
    errors::fail(errors::kInvalidArgument, "The prompt is " + std::to_string(prompt.size()) +
                                               " bytes; the limit (max_prompt_bytes) is " +
                                               std::to_string(settings.max_prompt_bytes));
  if (!is_valid_utf8(prompt)) errors::fail(errors::kInvalidArgument, "The prompt is not valid UTF-8");
  auto request = std::make_shared<Request>();
  request->params = parse_generate_options(options, settings.generate);
  // Checked here so the caller hears about it now, not in the stream.
  const halo::Tokenizer& tok = m.model->tokenizer();
  size_t n_prompt = tok.encode(prompt, request->params.add_bos && tok.add_bos_default(), true).size();
  if (n_prompt + 1 > m.n_ctx)
    errors::fail(errors::kInvalidArgument, "The prompt is " + std::to_string(n_prompt) +
                                               " tokens; the model's context holds " + std::to_string(m.n_ctx) +
                                               " with room for the answer; shorten it or load the model "
                                               "with a larger context_length");
  request->id = owner_.next_request_id();
  request->sender = sender();
  request->prompt = prompt;
  return request;
}

void BusModel::queue_streamed(sdbus::Result<sdbus::ObjectPath, sdbus::UnixFd>&& result, const RequestPtr& request) {
  auto act = [owner = &owner_, id = model_id_, request](auto& reply) {
    ResidentModel& m = owner->loaded_model(id);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
      errors::fail(errors::kFailed, std::string("Cannot create the stream: ") + std::strerror(errno));
    sdbus::UnixFd read_end(fds[0], sdbus::adopt_fd);
    request->stream_fd = fds[1];  // the request owns and closes the write end
    owner->manager().submit(m, request);
    std::string path = owner->export_request(request);
    log_debug("Request queued for " + request->sender, {.model = m.name, .request = std::to_string(request->id)});
    reply.returnResults(sdbus::ObjectPath(path), read_end);
  };
  owner_.authorize(std::move(result), request->sender, "org.halod.generate", act);
}

void BusModel::queue_text(TextResult&& result, const RequestPtr& request) {
  auto act = [owner = &owner_, id = model_id_, request](auto& reply) {
    ResidentModel& m = owner->loaded_model(id);
    request->collect_text = true;
    owner->manager().submit(m, request);
    owner->await_text(request, std::move(reply));  // answered when the request finishes
  };
  owner_.authorize(std::move(result), request->sender, "org.halod.generate", act);
}

void BusModel::Generate(sdbus::Result<sdbus::ObjectPath, sdbus::UnixFd>&& result, std::string prompt,
                        VariantMap options) {
  RequestPtr request = made_or_answered(result, [&] { return make_request(loaded_model(), prompt, options); });
  if (request) queue_streamed(std::move(result), request);
}

void BusModel::GenerateText(TextResult&& result, std::string prompt, VariantMap options) {
  RequestPtr request = made_or_answered(result, [&] { return make_request(loaded_model(), prompt, options); });
  if (request) queue_text(std::move(result), request);
}

}  // namespace halod
