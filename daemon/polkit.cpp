#include "daemon/polkit.h"

#include <sdbus-c++/sdbus-c++.h>

#include <cstdlib>
#include <vector>

#include "daemon/errors.h"
#include "daemon/event_loop.h"
#include "daemon/log.h"

namespace halod {
namespace {

constexpr const char* kInterface = "org.freedesktop.PolicyKit1.Authority";
constexpr uint32_t kAllowUserInteraction = 1;
// Interactive authentication waits for a person; bound it so a silent or
// stuck polkit ends in an error instead of a call that never returns.
constexpr auto kDefaultTimeout = std::chrono::seconds(60);

std::chrono::milliseconds timeout_from_env() {
  const char* v = std::getenv("HALOD_POLKIT_TIMEOUT_MS");
  if (!v || !*v) return kDefaultTimeout;
  char* end = nullptr;
  long ms = std::strtol(v, &end, 10);
  if (*end || ms <= 0) {
    log_warning(std::string("HALOD_POLKIT_TIMEOUT_MS is not a positive number of milliseconds: '") + v +
                "', ignoring");
    return kDefaultTimeout;
  }
  return std::chrono::milliseconds(ms);
}

sdbus::Error unreachable(const std::string& action, const std::string& why) {
  return sdbus::Error(errors::kAccessDenied,
                      "Cannot check authorization for " + action + " (polkit did not answer: " + why + ")");
}

}  // namespace

Authorizer::Authorizer(bool enabled, EventLoop& loop)
    : enabled_(enabled), loop_(loop), timeout_(timeout_from_env()) {}

Authorizer::~Authorizer() {
  for (auto& [id, p] : pending_) p.call.cancel();
  pending_.clear();
  if (watch_id_) loop_.unwatch(watch_id_);
}

void Authorizer::connect() {
  if (authority_) return;
  // Tests point this at a private bus with a mock polkit.
  const char* address = std::getenv("HALOD_POLKIT_BUS_ADDRESS");
  bus_ = address && *address ? sdbus::createSessionBusConnectionWithAddress(address)
                             : sdbus::createSystemBusConnection();
  authority_ = sdbus::createProxy(*bus_, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority");
  authority_->finishRegistration();
  watch_id_ = loop_.watch(*bus_, [this] {
    watch_id_ = 0;  // the loop no longer watches it
    disconnect("the connection to polkit's bus was lost");
  });
}

void Authorizer::disconnect(const std::string& why) {
  log_warning("Failed to talk to polkit: " + why + "; reconnecting at the next check");
  if (watch_id_) loop_.unwatch(watch_id_);
  watch_id_ = 0;
  fail_pending(why);
  authority_.reset();
  bus_.reset();
}

void Authorizer::check(const std::string& sender, const std::string& action, Verdict done) {
  if (!enabled_) return deliver(done, std::nullopt);
  using Subject = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
  using Details = std::map<std::string, std::string>;
  try {
    connect();
    const uint64_t id = next_id_++;
    Subject subject{"system-bus-name", {{"name", sdbus::Variant(sender)}}};
    auto call = authority_->callMethodAsync("CheckAuthorization")
                    .onInterface(kInterface)
                    .withTimeout(timeout_)
                    .withArguments(subject, action, Details{}, kAllowUserInteraction, std::string{})
                    .uponReplyInvoke([this, id](const sdbus::Error* error,
                                                sdbus::Struct<bool, bool, Details> result) {
                      answered(id, error, std::get<0>(result), std::get<1>(result));
                    });
    pending_.emplace(id, Pending{sender, action, std::move(done), std::move(call)});
  } catch (const sdbus::Error& e) {
    log_warning("Failed to ask polkit about " + action + ": " + e.getMessage());
    if (bus_) disconnect(e.getMessage());  // a broken connection: the next check makes a new one
    deliver(done, unreachable(action, e.getMessage()));
  }
}

void Authorizer::answered(uint64_t id, const sdbus::Error* error, bool allowed, bool challenged) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // forgotten meanwhile
  Pending p = std::move(it->second);
  pending_.erase(it);
  if (error) {
    log_warning("Failed to ask polkit about " + p.action + ": " + error->getMessage());
    return deliver(p.done, unreachable(p.action, error->getMessage()));
  }
  if (allowed) return deliver(p.done, std::nullopt);
  const char* why = challenged ? " (authentication was required and failed)" : "; ask an administrator";
  deliver(p.done, sdbus::Error(errors::kAccessDenied, "Not authorized to " + p.action + why));
}

void Authorizer::forget(const std::string& sender) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.sender != sender) {
      ++it;
      continue;
    }
    log_info("Dropped the polkit check for " + it->second.action + ": " + sender + " left the bus");
    it->second.call.cancel();
    it = pending_.erase(it);
  }
}

void Authorizer::fail_pending(const std::string& why) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) {
    p.call.cancel();
    deliver(p.done, unreachable(p.action, why));
  }
}

void Authorizer::deliver(const Verdict& done, const std::optional<sdbus::Error>& denied) {
  // Runs from sd-bus's reply dispatch too, where an exception must not escape.
  try {
    done(denied);
  } catch (const std::exception& e) {
    log_error(std::string("Failed to answer after a polkit check: ") + e.what() + ", ignoring");
  }
}

}  // namespace halod
