// org.halod.Halod1.Request: the bus object of one streamed generation, at
// /org/halod/Halod1/request/<id>. Only the client that started it may cancel it.
#pragma once
#include <sdbus-c++/sdbus-c++.h>

#include "Request-adaptor.h"
#include "daemon/request_queue.h"

namespace halod {

class Authorizer;

class BusRequest final
    : public sdbus::AdaptorInterfaces<org::halod::Halod1::Request_adaptor, sdbus::Properties_adaptor> {
 public:
  BusRequest(sdbus::IConnection& bus, RequestPtr request);
  ~BusRequest();
  BusRequest(const BusRequest&) = delete;
  BusRequest& operator=(const BusRequest&) = delete;

  static std::string path_for(uint64_t request_id);
  void state_changed();

 private:
  void Cancel() override;
  std::string State() override;

  RequestPtr request_;
};

}  // namespace halod
