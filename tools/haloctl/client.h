// haloctl's side of the bus: the connection, final proxy classes over the
// generated ones, model lookup by id/name/path, and the exit code of each
// org.halod.Halod1.Error.* (documented in `haloctl --help`).
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <sdbus-c++/sdbus-c++.h>
#include <string>

#include "Manager-proxy.h"
#include "Model-proxy.h"
#include "Request-proxy.h"

namespace haloctl {

using VariantMap = std::map<std::string, sdbus::Variant>;

inline constexpr const char* kBusName = "org.halod.Halod1";
inline constexpr const char* kManagerPath = "/org/halod/Halod1";

enum ExitCode : int {
  kOk = 0,
  kFailure = 1,          // anything else (device failure, unexpected error)
  kUsage = 2,            // bad command line or InvalidArgument
  kNotFound = 3,         // no such model / file
  kAccessDenied = 4,     // polkit or file permissions
  kNoMemory = 5,         // the model does not fit
  kBusy = 6,             // queue full or model loading/generating
  kBadModel = 7,         // not a usable GGUF
  kNoDaemon = 8,         // halod is not running or the bus is unreachable
  kGenerationFailed = 9, // the stream ended with reason "error"
  kInterrupted = 130,    // Ctrl-C (the request was cancelled)
};
int exit_code_for(const sdbus::Error& e);
// The help text listing the codes above.
std::string exit_codes_help();

class ManagerProxy final
    : public sdbus::ProxyInterfaces<org::halod::Halod1::Manager_proxy, sdbus::Properties_proxy> {
 public:
  explicit ManagerProxy(sdbus::IConnection& bus) : ProxyInterfaces(bus, kBusName, kManagerPath) { registerProxy(); }
  ~ManagerProxy() { unregisterProxy(); }

 private:
  void onPropertiesChanged(const std::string&, const VariantMap&, const std::vector<std::string>&) override {}
};

class ModelProxy final : public sdbus::ProxyInterfaces<org::halod::Halod1::Model_proxy, sdbus::Properties_proxy> {
 public:
  ModelProxy(sdbus::IConnection& bus, const std::string& path) : ProxyInterfaces(bus, kBusName, path) {
    registerProxy();
  }
  ~ModelProxy() { unregisterProxy(); }

  // The authorized methods, waiting longer than the bus's 25 s default:
  // polkit may hold them while it asks the user (halod waits up to 60 s).
  void unload() { getProxy().callMethod("Unload").onInterface(kInterface).withTimeout(kAuthorizedTimeout); }
  uint64_t switch_backend(const std::string& backend) {
    uint64_t us = 0;
    getProxy().callMethod("SwitchBackend").onInterface(kInterface).withTimeout(kAuthorizedTimeout)
        .withArguments(backend).storeResultsTo(us);
    return us;
  }
  std::tuple<sdbus::ObjectPath, sdbus::UnixFd> generate(const std::string& prompt, const VariantMap& options) {
    std::tuple<sdbus::ObjectPath, sdbus::UnixFd> result;
    getProxy().callMethod("Generate").onInterface(kInterface).withTimeout(kAuthorizedTimeout)
        .withArguments(prompt, options).storeResultsTo(result);
    return result;
  }
  using ChatMessages = std::vector<sdbus::Struct<std::string, std::string>>;
  std::tuple<sdbus::ObjectPath, sdbus::UnixFd> chat(const ChatMessages& messages, const VariantMap& options) {
    std::tuple<sdbus::ObjectPath, sdbus::UnixFd> result;
    getProxy().callMethod("Chat").onInterface(kInterface).withTimeout(kAuthorizedTimeout)
        .withArguments(messages, options).storeResultsTo(result);
    return result;
  }

 private:
  void onPropertiesChanged(const std::string&, const VariantMap&, const std::vector<std::string>&) override {}
  static constexpr const char* kInterface = org::halod::Halod1::Model_proxy::INTERFACE_NAME;
  static constexpr std::chrono::seconds kAuthorizedTimeout{120};
};

class RequestProxy final
    : public sdbus::ProxyInterfaces<org::halod::Halod1::Request_proxy, sdbus::Properties_proxy> {
 public:
  RequestProxy(sdbus::IConnection& bus, const std::string& path) : ProxyInterfaces(bus, kBusName, path) {
    registerProxy();
  }
  ~RequestProxy() { unregisterProxy(); }

 private:
  void onPropertiesChanged(const std::string&, const VariantMap&, const std::vector<std::string>&) override {}
};

// Opens the system bus, or the session bus (DBUS_SESSION_BUS_ADDRESS) when session.
std::unique_ptr<sdbus::IConnection> connect(bool session);
// Dispatches incoming messages until done() or timeout_ms (-1: no limit);
// returns done().
bool pump_until(sdbus::IConnection& bus, const std::function<bool()>& done, int timeout_ms);
// A model's object path from an object path, a numeric id, or a Name / Path
// (or its file name) of a loaded model. Throws sdbus::Error(NotFound).
std::string resolve_model(sdbus::IConnection& bus, const std::string& spec);

}  // namespace haloctl
