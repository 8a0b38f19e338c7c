// halod: keeps LLMs resident in GPU-addressable memory and serves them over
// D-Bus. This file holds only run(); the parts live in manager.cpp (residency),
// bus_*.cpp (the D-Bus objects), request_queue.cpp (generation), polkit.cpp,
// notify.cpp, log.cpp and startup.cpp.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <cstring>
#include <sdbus-c++/sdbus-c++.h>

#include "daemon/bus_manager.h"
#include "daemon/event_loop.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "daemon/polkit.h"
#include "daemon/startup.h"

namespace halod {
namespace {

void schedule_watchdog(EventLoop& loop, Notifier& notify) {
  auto interval = notify.watchdog_interval();
  if (!interval) return;
  notify.watchdog_ping();
  loop.add_timer(EventLoop::Clock::now() + *interval, [&loop, &notify] { schedule_watchdog(loop, notify); });
}

int run(int argc, char** argv) {
  CLI::App app{"halod: keeps local LLMs resident in GPU-addressable memory and serves them over D-Bus"};
  bool session = false;
  std::string config_path;
  app.add_flag("--session", session, "Serve on the session bus (development, tests) instead of the system bus");
  app.add_option("--config", config_path, "Configuration file (default /etc/halod/halod.toml)");
  CLI11_PARSE(app, argc, argv);

  signal(SIGPIPE, SIG_IGN);  // a closed stream is an EPIPE to handle, not a reason to die
  if (const char* d = std::getenv("HALOD_DEBUG"); d && *d == '1') set_log_level(LogLevel::Debug);

  halo::config::Config config;
  try {
    halo::config::LoadOptions lo;
    lo.main_must_exist = !config_path.empty();
    config = halo::config::load(config_path.empty() ? std::string(halo::config::kDefaultPath) : config_path, lo);
  } catch (const halo::config::ConfigError& e) {
    log_error(std::string("Invalid configuration: ") + e.what());
    return 1;
  }
  const char* root_env = std::getenv("HALOD_SYSFS_ROOT");
  halo::ttm::Checker checker(root_env && *root_env ? std::filesystem::path(root_env) : config.sysfs_root);
  halo::ttm::Report ttm = checker.check(config.reserve);
  log_ttm_report(ttm);

  Notifier notify;
  try {
    auto bus = session ? sdbus::createSessionBusConnection() : sdbus::createSystemBusConnection();
    EventLoop loop(*bus);
    Manager manager(settings_from(config, ttm), loop);
    Authorizer auth(!session || config.polkit_in_session, loop);
    BusManager bus_manager(*bus, manager, auth, loop, [&] { return checker.check(config.reserve); });
    // Objects are registered before the name is taken, so the first caller finds them.
    bus->requestName("org.halod.Halod1");
    std::string backends;
    for (auto& b : manager.backends()) backends += (backends.empty() ? "" : ", ") + b.name + " (" + b.device + ")";
    log_info(std::string("Serving org.halod.Halod1 on the ") + (session ? "session" : "system") +
             " bus; backends: " + backends);
    notify.ready("Serving; pool budget " + halo::ttm::format_bytes(manager.pool_budget()));
    bus_manager.set_status_listener([&notify](const std::string& s) { notify.status(s); });
    schedule_watchdog(loop, notify);
    start_preloads(manager, config);

    int sig = loop.run();
    log_info(std::string("Stopping") + (sig ? std::string(" on ") + strsignal(sig) : std::string()));
    notify.stopping("Cancelling requests and releasing memory");
    manager.shutdown();
    loop.drain();  // answers the cancelled requests' callers
    bus->releaseName("org.halod.Halod1");
  } catch (const sdbus::Error& e) {
    log_error("Failed to serve on the " + std::string(session ? "session" : "system") + " bus: " + e.getMessage());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace halod

int main(int argc, char** argv) { return halod::run(argc, argv); }
