#include "daemon/polkit.h"

#include <sdbus-c++/sdbus-c++.h>

#include <cstdlib>

#include "daemon/errors.h"
#include "daemon/log.h"

namespace halod {
namespace {

constexpr uint32_t kAllowUserInteraction = 1;
// Interactive authentication may wait for a person; bound it.
constexpr auto kPolkitTimeout = std::chrono::seconds(60);

}  // namespace

Authorizer::Authorizer(bool enabled) : enabled_(enabled) {}

Authorizer::~Authorizer() = default;

void Authorizer::check(const std::string& sender, const std::string& action) {
  if (!enabled_) return;
  using Subject = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
  using Result = sdbus::Struct<bool, bool, std::map<std::string, std::string>>;
  Result result;
  try {
    if (!authority_) {
      // Tests point this at a private bus with a mock polkit.
      const char* address = std::getenv("HALOD_POLKIT_BUS_ADDRESS");
      system_bus_ = address && *address ? sdbus::createSessionBusConnectionWithAddress(address)
                                        : sdbus::createSystemBusConnection();
      authority_ = sdbus::createProxy(*system_bus_, "org.freedesktop.PolicyKit1",
                                      "/org/freedesktop/PolicyKit1/Authority");
      authority_->finishRegistration();
    }
    Subject subject{"system-bus-name", {{"name", sdbus::Variant(sender)}}};
    // The call blocks the event loop while polkit answers (usually well
    // under a millisecond; an authentication dialog is bounded by the timeout).
    authority_->callMethod("CheckAuthorization")
        .onInterface("org.freedesktop.PolicyKit1.Authority")
        .withTimeout(kPolkitTimeout)
        .withArguments(subject, action, std::map<std::string, std::string>{}, kAllowUserInteraction,
                       std::string{})
        .storeResultsTo(result);
  } catch (const sdbus::Error& e) {
    log_warning("Failed to ask polkit about " + action + ": " + e.getMessage());
    errors::fail(errors::kAccessDenied, "Cannot check authorization for " + action +
                                            " (polkit is not reachable: " + e.getMessage() + ")");
  }
  if (!std::get<0>(result))
    errors::fail(errors::kAccessDenied, std::string("Not authorized to ") + action +
                                            (std::get<1>(result) ? " (authentication was required and failed)"
                                                                 : "; ask an administrator"));
}

}  // namespace halod
