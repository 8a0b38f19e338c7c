// Authorization through polkit (org.freedesktop.PolicyKit1 on the system
// bus). Actions: org.halod.load, org.halod.unload, org.halod.generate,
// org.halod.configure (polkit/ holds the policy). On the session bus polkit
// is not consulted unless the config asks, since callers are the same user.
// HALOD_POLKIT_BUS_ADDRESS (tests) names another bus to find polkit on.
#pragma once
#include <memory>
#include <string>

namespace sdbus { class IConnection; class IProxy; }

namespace halod {

class Authorizer {
 public:
  // enabled false: every check passes (session bus without polkit_in_session).
  explicit Authorizer(bool enabled);
  ~Authorizer();
  Authorizer(const Authorizer&) = delete;
  Authorizer& operator=(const Authorizer&) = delete;

  // Throws sdbus::Error(AccessDenied) unless polkit allows sender (a unique
  // bus name) to perform action. The user may be asked to authenticate.
  void check(const std::string& sender, const std::string& action);
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  std::unique_ptr<sdbus::IConnection> system_bus_;
  std::unique_ptr<sdbus::IProxy> authority_;
};

}  // namespace halod
