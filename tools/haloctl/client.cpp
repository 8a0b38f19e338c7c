#include "tools/haloctl/client.h"

#include <poll.h>

#include <chrono>
#include <filesystem>

namespace haloctl {

int exit_code_for(const sdbus::Error& e) {
  static const std::map<std::string, int> codes = {
      {"org.halod.Halod1.Error.InvalidArgument", kUsage},
      {"org.halod.Halod1.Error.NotFound", kNotFound},
      {"org.halod.Halod1.Error.AccessDenied", kAccessDenied},
      {"org.halod.Halod1.Error.NoMemory", kNoMemory},
      {"org.halod.Halod1.Error.Busy", kBusy},
      {"org.halod.Halod1.Error.BadModel", kBadModel},
      {"org.freedesktop.DBus.Error.ServiceUnknown", kNoDaemon},
      {"org.freedesktop.DBus.Error.NameHasNoOwner", kNoDaemon},
      {"org.freedesktop.DBus.Error.NoServer", kNoDaemon},
      {"org.freedesktop.DBus.Error.FileNotFound", kNoDaemon},
      {"org.freedesktop.DBus.Error.AccessDenied", kAccessDenied},
      {"org.freedesktop.DBus.Error.UnknownObject", kNotFound},
      {"org.freedesktop.DBus.Error.InvalidArgs", kUsage},
  };
  auto it = codes.find(e.getName());
  if (it != codes.end()) return it->second;
  // Failing to connect at all comes as a system error, not a D-Bus name.
  if (e.getName().rfind("org.freedesktop.DBus.Error.", 0) != 0 && e.getName().find("sdbus") != std::string::npos)
    return kNoDaemon;
  return kFailure;
}

std::string exit_codes_help() {
  return "Exit codes:\n"
         "  0    success\n"
         "  1    other failure (device error, unexpected reply)\n"
         "  2    bad command line or invalid argument (InvalidArgument)\n"
         "  3    no such model or file (NotFound)\n"
         "  4    not allowed (AccessDenied: polkit or file permissions)\n"
         "  5    the model does not fit the pool budget (NoMemory)\n"
         "  6    busy: queue full, or the model is loading or generating (Busy)\n"
         "  7    not a usable GGUF model (BadModel)\n"
         "  8    halod is not running, or the bus cannot be reached\n"
         "  9    generation ended with an error\n"
         "  130  interrupted by Ctrl-C (the request was cancelled)\n"
         "haloctl ttm has its own: 0 ok or warning, 1 could not do it, 2 bad arguments,\n"
         "  3 TTM limits misconfigured or unavailable (check).\n";
}

std::unique_ptr<sdbus::IConnection> connect(bool session) {
  return session ? sdbus::createSessionBusConnection() : sdbus::createSystemBusConnection();
}

bool pump_until(sdbus::IConnection& bus, const std::function<bool()>& done, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    while (bus.processPendingRequest()) {
      if (done()) return true;
    }
    int wait = 100;
    if (timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return done();
      wait = std::min<int>(wait, static_cast<int>(left.count()));
    }
    auto pd = bus.getEventLoopPollData();
    pollfd p{pd.fd, pd.events, 0};
    poll(&p, 1, std::min(wait, pd.getPollTimeout() < 0 ? wait : pd.getPollTimeout()));
  }
  return true;
}

std::string resolve_model(sdbus::IConnection& bus, const std::string& spec) {
  ManagerProxy manager(bus);
  auto paths = manager.ListModels();
  if (spec.rfind("/org/halod/Halod1/model/", 0) == 0) return spec;
  const bool numeric = !spec.empty() && spec.find_first_not_of("0123456789") == std::string::npos;
  for (const auto& path : paths) {
    if (numeric && path == std::string(kManagerPath) + "/model/" + spec) return path;
    ModelProxy model(bus, path);
    std::string name = model.Name(), file = model.Path();
    if (spec == name || spec == file || spec == std::filesystem::path(file).filename().string()) return path;
  }
  throw sdbus::Error("org.halod.Halod1.Error.NotFound",
                     "No loaded model matches '" + spec + "' (see haloctl ps)");
}

}  // namespace haloctl
