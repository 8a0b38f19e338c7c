// Authorization through polkit (org.freedesktop.PolicyKit1 on the system
// bus). Actions: org.halod.load, org.halod.unload, org.halod.generate,
// org.halod.configure (polkit/ holds the policy). On the session bus polkit
// is not consulted unless the config asks, since callers are the same user.
//
// Checks are asynchronous: polkit may wait up to a minute for a person to
// authenticate, and the event loop serves every other client meanwhile. The
// answer arrives on the loop (the polkit connection is one of its watched
// connections) and goes to the check's callback.
//
// Test seams: HALOD_POLKIT_BUS_ADDRESS names another bus to find polkit on;
// HALOD_POLKIT_TIMEOUT_MS shortens how long an answer is awaited (default 60 s).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sdbus-c++/IProxy.h>
#include <string>

namespace sdbus { class IConnection; class Error; }

namespace halod {

class EventLoop;

class Authorizer {
 public:
  // Receives nothing when allowed, else the error for the caller (AccessDenied).
  using Verdict = std::function<void(const std::optional<sdbus::Error>& denied)>;

  // enabled false: every check passes at once (session bus without polkit_in_session).
  Authorizer(bool enabled, EventLoop& loop);
  ~Authorizer();
  Authorizer(const Authorizer&) = delete;
  Authorizer& operator=(const Authorizer&) = delete;

  // Asks polkit whether sender (a unique bus name) may perform action; the
  // user may be asked to authenticate. done runs on the loop thread once,
  // when polkit answers, fails or does not answer in time; at once when
  // checks are disabled or polkit cannot be asked.
  void check(const std::string& sender, const std::string& action, Verdict done);
  // sender left the bus: its pending checks are dropped; their done never runs.
  void forget(const std::string& sender);
  // Answers every pending check with AccessDenied saying why (shutdown).
  void fail_pending(const std::string& why);
  bool enabled() const { return enabled_; }

 private:
  struct Pending {
    std::string sender, action;
    Verdict done;
    sdbus::PendingAsyncCall call;
  };
  void connect();
  void disconnect(const std::string& why);
  void answered(uint64_t id, const sdbus::Error* error, bool allowed, bool challenged);
  static void deliver(const Verdict& done, const std::optional<sdbus::Error>& denied);

  bool enabled_;
  EventLoop& loop_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<sdbus::IConnection> bus_;
  std::unique_ptr<sdbus::IProxy> authority_;
  uint64_t watch_id_ = 0;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Pending> pending_;
};

}  // namespace halod
