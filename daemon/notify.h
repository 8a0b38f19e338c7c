// systemd service notifications (sd_notify): READY once the bus name is owned
// and the engine is up, STATUS= lines, watchdog pings from the event loop and
// STOPPING on shutdown. Without NOTIFY_SOCKET every call does nothing.
#pragma once
#include <chrono>
#include <optional>
#include <string>

namespace halod {

class Notifier {
 public:
  Notifier();
  void ready(const std::string& status);
  void status(const std::string& status);
  void stopping(const std::string& status);
  void watchdog_ping();
  // How often to ping: half of WatchdogSec, or nothing when it is off.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return interval_; }

 private:
  std::optional<std::chrono::microseconds> interval_;
};

}  // namespace halod
