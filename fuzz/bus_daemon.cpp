#include "fuzz/bus_daemon.h"

#include <cstdio>
#include <cstdlib>
#include <sdbus-c++/sdbus-c++.h>
#include <thread>

#include "daemon/bus_manager.h"
#include "daemon/event_loop.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/polkit.h"

namespace halo::fuzz {

struct InProcessDaemon::Parts {
  std::unique_ptr<sdbus::IConnection> bus;
  std::unique_ptr<halod::EventLoop> loop;
  std::unique_ptr<halod::Manager> manager;
  std::unique_ptr<halod::Authorizer> auth;
  std::unique_ptr<halod::BusManager> objects;
  std::thread thread;
};

namespace {

halod::ManagerSettings manager_settings(const DaemonSettings& s) {
  halod::ManagerSettings m;
  m.model_dirs = s.model_dirs;
  m.default_backend = "cpu";
  m.pool_budget = s.pool_budget;
  m.keep_alive = -1;
  m.queue_limit = s.queue_limit;
  m.max_prompt_bytes = s.max_prompt_bytes;
  m.generate.max_tokens_limit = s.max_tokens;
  m.generate.default_max_tokens = s.max_tokens;
  m.n_threads = 1;
  return m;
}

}  // namespace

InProcessDaemon::InProcessDaemon(const DaemonSettings& settings) : parts_(std::make_unique<Parts>()) {
  Parts& p = *parts_;
  halod::set_log_level(halod::LogLevel::Warning);  // thousands of loads a run
  try {
    p.bus = sdbus::createSessionBusConnection();
    p.loop = std::make_unique<halod::EventLoop>(*p.bus);
    p.manager = std::make_unique<halod::Manager>(manager_settings(settings), *p.loop);
    p.auth = std::make_unique<halod::Authorizer>(false, *p.loop);
    p.objects = std::make_unique<halod::BusManager>(*p.bus, *p.manager, *p.auth, *p.loop,
                                                    [] { return halo::ttm::Report{}; });
    p.bus->requestName("org.halod.Halod1");
  } catch (const sdbus::Error& e) {
    std::fprintf(stderr, "fuzz-bus: cannot serve on the session bus (run it under dbus-run-session): %s\n",
                 e.getMessage().c_str());
    std::exit(2);
  }
  p.thread = std::thread([loop = p.loop.get()] { loop->run(); });
}

InProcessDaemon::~InProcessDaemon() {
  Parts& p = *parts_;
  p.loop->post([loop = p.loop.get()] { loop->quit(); });
  p.thread.join();
  p.manager->shutdown();
  p.loop->drain();
  p.bus->releaseName("org.halod.Halod1");
  p.objects.reset();
  p.auth.reset();
  p.manager.reset();
}

}  // namespace halo::fuzz
