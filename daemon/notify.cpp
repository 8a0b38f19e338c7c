#include "daemon/notify.h"

#include <systemd/sd-daemon.h>


namespace halod {

Notifier::Notifier() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
    interval_ = std::chrono::microseconds(usec / 2);
}

void Notifier::ready(const std::string& status) {
  sd_notify(0, ("READY=1\nSTATUS=" + status).c_str());
}

void Notifier::status(const std::string& status) { sd_notify(0, ("STATUS=" + status).c_str()); }

void Notifier::stopping(const std::string& status) {
  sd_notify(0, ("STOPPING=1\nSTATUS=" + status).c_str());
}

void Notifier::watchdog_ping() { sd_notify(0, "WATCHDOG=1"); }

}  // namespace halod
