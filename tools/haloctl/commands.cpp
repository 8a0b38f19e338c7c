#include "tools/haloctl/commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tools/haloctl/client.h"

namespace haloctl {
namespace {

using json = nlohmann::json;

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / double(1ull << 30));
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / double(1ull << 20));
  return buf;
}

json model_json(ModelProxy& m, const std::string& path) {
  return {{"path", path},           {"name", m.Name()},
          {"file", m.Path()},       {"architecture", m.Architecture()},
          {"quantization", m.Quantization()}, {"parameters", m.Parameters()},
          {"size_bytes", m.SizeBytes()}, {"backend", m.Backend()},
          {"state", m.State()},     {"context_length", m.ContextLength()},
          {"keep_alive", m.KeepAlive()}, {"last_used_us", m.LastUsed()},
          {"pinned", m.Pinned()}};
}

void draw_progress(double fraction) {
  const int width = 40;
  int filled = static_cast<int>(fraction * width);
  std::fprintf(stderr, "\rLoading [%s%s] %3d%%", std::string(filled, '#').c_str(),
               std::string(width - filled, ' ').c_str(), static_cast<int>(fraction * 100));
  std::fflush(stderr);
}

}  // namespace

int32_t parse_duration(const std::string& text) {
  if (text == "forever" || text == "-1") return -1;
  size_t used = 0;
  long long value = std::stoll(text, &used);  // throws std::invalid_argument
  std::string unit = text.substr(used);
  long long scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 0;
  if (scale == 0 || value < 0 || value * scale > INT32_MAX)
    throw std::invalid_argument("'" + text + "' is not a duration (examples: 300, 5m, 2h, forever)");
  return static_cast<int32_t>(value * scale);
}

int cmd_status(const Globals& g) {
  auto bus = connect(g.session);
  ManagerProxy manager(*bus);
  auto backends = manager.Backends();
  json j = {{"version", manager.Version()},
            {"default_backend", manager.DefaultBackend()},
            {"gtt_total", manager.GttTotal()},
            {"gtt_used", manager.GttUsed()},
            {"pool_budget", manager.PoolBudget()},
            {"pool_used", manager.PoolUsed()},
            {"ttm_pages_limit", manager.TtmPagesLimit()},
            {"ttm_page_pool_size", manager.TtmPagePoolSize()},
            {"ttm_status", manager.TtmStatus()},
            {"ttm_warnings", manager.TtmWarnings()},
            {"models", manager.ListModels().size()}};
  j["backends"] = json::array();
  for (auto& b : backends) j["backends"].push_back({{"name", std::get<0>(b)}, {"device", std::get<1>(b)}});
  if (g.json) {
    std::cout << j.dump(2) << "\n";
    return kOk;
  }
  std::cout << "halod " << j["version"].get<std::string>() << "\n";
  std::cout << "Backends:     ";
  for (auto& b : backends) std::cout << std::get<0>(b) << " (" << std::get<1>(b) << ")  ";
  std::cout << "\nDefault:      " << j["default_backend"].get<std::string>() << "\n";
  std::cout << "Pool:         " << human_bytes(manager.PoolUsed()) << " used of " << human_bytes(manager.PoolBudget())
            << "\n";
  if (manager.GttTotal() > 0)
    std::cout << "GTT:          " << human_bytes(manager.GttUsed()) << " used of " << human_bytes(manager.GttTotal())
              << "\n";
  std::cout << "TTM:          " << j["ttm_status"].get<std::string>() << " (pages_limit "
            << manager.TtmPagesLimit() << ", page_pool_size " << manager.TtmPagePoolSize() << ")\n";
  for (auto& w : manager.TtmWarnings()) std::cout << "  warning: " << w << "\n";
  std::cout << "Models:       " << j["models"].get<size_t>() << " loaded\n";
  return kOk;
}

int cmd_ps(const Globals& g) {
  auto bus = connect(g.session);
  ManagerProxy manager(*bus);
  json list = json::array();
  for (auto& path : manager.ListModels()) {
    ModelProxy m(*bus, path);
    try {
      list.push_back(model_json(m, path));
    } catch (const sdbus::Error&) {
      // unloaded between ListModels and now: not in the list, on purpose
    }
  }
  if (g.json) {
    std::cout << list.dump(2) << "\n";
    return kOk;
  }
  std::printf("%-4s %-28s %-8s %-8s %-10s %-8s %-8s %s\n", "ID", "NAME", "QUANT", "BACKEND", "SIZE", "STATE", "CTX",
              "KEEP_ALIVE");
  for (auto& m : list) {
    std::string path = m["path"];
    std::string id = path.substr(path.rfind('/') + 1);
    int keep = m["keep_alive"];
    std::printf("%-4s %-28s %-8s %-8s %-10s %-8s %-8u %s%s\n", id.c_str(), m["name"].get<std::string>().c_str(),
                m["quantization"].get<std::string>().c_str(), m["backend"].get<std::string>().c_str(),
                human_bytes(m["size_bytes"]).c_str(), m["state"].get<std::string>().c_str(),
                m["context_length"].get<uint32_t>(), keep < 0 ? "forever" : (std::to_string(keep) + "s").c_str(),
                m["pinned"].get<bool>() ? " pinned" : "");
  }
  return kOk;
}

int cmd_load(const Globals& g, const LoadArgs& a) {
  // Opening the file here proves this user may read it; the daemon gets the descriptor.
  int fd = open(a.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "haloctl: cannot open %s: %s\n", a.path.c_str(), std::strerror(errno));
    return errno == ENOENT ? kNotFound : kAccessDenied;
  }
  sdbus::UnixFd file(fd, sdbus::adopt_fd);
  char real[PATH_MAX];
  std::string name = realpath(a.path.c_str(), real) ? real : a.path;

  VariantMap options;
  if (!a.backend.empty()) options["backend"] = sdbus::Variant(a.backend);
  if (a.keep_alive) options["keep_alive"] = sdbus::Variant(*a.keep_alive);
  if (a.pin) options["pinned"] = sdbus::Variant(true);
  if (a.context_length) options["context_length"] = sdbus::Variant(*a.context_length);

  auto bus = connect(g.session);
  // Progress: our model object appears (InterfacesAdded, Path == name) and
  // then reports LoadProgress through PropertiesChanged.
  std::string our_path;
  const bool show_progress = !g.json && isatty(STDERR_FILENO);
  auto added = bus->addMatch(
      "type='signal',sender='org.halod.Halod1',interface='org.freedesktop.DBus.ObjectManager',member='InterfacesAdded'",
      [&](sdbus::Message& msg) {
        sdbus::ObjectPath path;
        std::map<std::string, VariantMap> interfaces;
        msg >> path >> interfaces;
        auto it = interfaces.find("org.halod.Halod1.Model");
        if (it != interfaces.end() && it->second.count("Path") && it->second["Path"].get<std::string>() == name)
          our_path = path;
      });
  auto progress = bus->addMatch(
      "type='signal',sender='org.halod.Halod1',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
      "path_namespace='/org/halod/Halod1/model'",
      [&](sdbus::Message& msg) {
        if (!show_progress || msg.getPath() != our_path) return;
        std::string iface;
        VariantMap changed;
        msg >> iface >> changed;
        if (auto it = changed.find("LoadProgress"); it != changed.end()) draw_progress(it->second.get<double>());
      });

  auto proxy = sdbus::createProxy(*bus, kBusName, kManagerPath);
  std::optional<sdbus::ObjectPath> result;
  std::optional<sdbus::Error> failure;
  proxy->callMethodAsync("LoadModelFd")
      .onInterface(org::halod::Halod1::Manager_proxy::INTERFACE_NAME)
      .withTimeout(std::chrono::minutes(30))  // large models from slow disks
      .withArguments(file, name, options)
      .uponReplyInvoke([&](const sdbus::Error* error, sdbus::ObjectPath path) {
        if (error)
          failure = *error;
        else
          result = path;
      });
  pump_until(*bus, [&] { return result || failure; }, -1);
  if (show_progress && !our_path.empty()) std::fprintf(stderr, "\n");
  if (failure) throw *failure;
  ModelProxy m(*bus, *result);
  if (g.json)
    std::cout << model_json(m, *result).dump(2) << "\n";
  else
    std::cout << "Loaded " << m.Name() << " (" << m.Quantization() << ", " << human_bytes(m.SizeBytes()) << ") on "
              << m.Backend() << " as " << std::string(*result) << "\n";
  return kOk;
}

int cmd_unload(const Globals& g, const std::string& spec) {
  auto bus = connect(g.session);
  std::string path = resolve_model(*bus, spec);
  ModelProxy(*bus, path).unload();
  if (g.json)
    std::cout << json{{"unloaded", path}}.dump() << "\n";
  else
    std::cout << "Unloaded " << path << "\n";
  return kOk;
}

int cmd_switch(const Globals& g, const std::string& spec, const std::string& backend) {
  auto bus = connect(g.session);
  std::string path = resolve_model(*bus, spec);
  uint64_t us = ModelProxy(*bus, path).switch_backend(backend);
  if (g.json)
    std::cout << json{{"model", path}, {"backend", backend}, {"microseconds", us}}.dump() << "\n";
  else
    std::cout << "Switched " << path << " to " << backend << " in " << us / 1000.0 << " ms\n";
  return kOk;
}

}  // namespace haloctl
