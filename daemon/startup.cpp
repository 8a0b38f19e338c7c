#include "daemon/startup.h"

#include <fcntl.h>
#include <sdbus-c++/Error.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/bus_manager.h"
#include "daemon/log.h"

namespace halod {

ManagerSettings settings_from(const halo::config::Config& config, const halo::ttm::Report& ttm) {
  ManagerSettings s;
  for (auto& dir : config.model_dirs) s.model_dirs.push_back(dir.string());
  s.default_backend = config.default_backend;
  s.pool_budget = ttm.budget;
  s.keep_alive = static_cast<int32_t>(std::clamp<int64_t>(config.keep_alive, -1, INT32_MAX));
  s.context_length = config.context_length;
  s.queue_limit = config.max_queued;
  s.max_prompt_bytes = config.max_prompt_bytes;
  s.generate.max_tokens_limit = config.max_tokens;
  s.generate.default_max_tokens = std::min<uint32_t>(256, config.max_tokens);
  return s;
}

void log_ttm_report(const halo::ttm::Report& ttm) {
  log_info("TTM check: " + std::string(halo::ttm::to_string(ttm.verdict)) + "; pool budget " +
           halo::ttm::format_bytes(ttm.budget) + " (reserve " + halo::ttm::format_bytes(ttm.reserve) + ")");
  // Unavailable is the normal case on a machine without an amdgpu device:
  // the CPU backend still works, so its note is not a warning.
  const LogLevel level = ttm.verdict == halo::ttm::Verdict::Unavailable ? LogLevel::Info : LogLevel::Warning;
  for (auto& w : ttm.warnings) log(level, "TTM: " + w);
}

void start_preloads(Manager& manager, const halo::config::Config& config) {
  for (const auto& p : config.preload) {
    const std::string path = p.path.string();
    // Preloads come from the administrator's config, so model_dirs do not apply.
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      log_error("Failed to open preload model " + path + ": " + std::strerror(errno) + ", ignoring");
      continue;
    }
    LoadModelOptions options;
    options.backend = p.backend;
    options.pinned = p.pinned;
    if (p.keep_alive) options.keep_alive = static_cast<int32_t>(std::clamp<int64_t>(*p.keep_alive, -1, INT32_MAX));
    try {
      manager.load(fd, path, options, [path](ResidentModel*, std::exception_ptr error) {
        if (error) log_error("Failed to preload " + path + ": " + to_dbus_error(error).getMessage() + ", ignoring");
      });
    } catch (const sdbus::Error& e) {
      log_error("Failed to preload " + path + ": " + e.getMessage() + ", ignoring");
    }
  }
}

}  // namespace halod
