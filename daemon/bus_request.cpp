#include "daemon/bus_request.h"

#include "daemon/errors.h"
#include "daemon/log.h"

namespace halod {

BusRequest::BusRequest(sdbus::IConnection& bus, RequestPtr request)
    : AdaptorInterfaces(bus, path_for(request->id)), request_(std::move(request)) {
  registerAdaptor();
}

BusRequest::~BusRequest() { unregisterAdaptor(); }

std::string BusRequest::path_for(uint64_t request_id) {
  return "/org/halod/Halod1/request/" + std::to_string(request_id);
}

void BusRequest::state_changed() { emitPropertiesChangedSignal(org::halod::Halod1::Request_adaptor::INTERFACE_NAME, {"State"}); }

void BusRequest::Cancel() {
  const std::string sender = getObject().getCurrentlyProcessedMessage()->getSender();
  if (sender != request_->sender)
    errors::fail(errors::kAccessDenied, "Only the client that started a request may cancel it");
  if (!request_->cancelled.exchange(true))
    log_info("Request cancelled by its client", {.request = std::to_string(request_->id)});
}

std::string BusRequest::State() {
  RequestState s = request_->state;
  if (s == RequestState::Queued || s == RequestState::Running)
    if (request_->cancelled) return "cancelled";
  return std::string(request_state_name(s));
}

}  // namespace halod
