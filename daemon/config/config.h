// halod's configuration: /etc/halod/halod.toml, then the drop-ins in
// /etc/halod/halod.toml.d/*.conf and *.toml in byte order of their file
// names. A key set by a later file replaces the earlier value (arrays are
// replaced whole, not merged). A missing main file means the defaults below.
// Every option is documented in daemon/config/halod.toml.example.
//
// Errors (unknown key, wrong type, bad size, TOML syntax) throw ConfigError
// whose message starts with "file:line:column:" and says what was expected;
// the daemon prints it and refuses to start.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace halo::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::string_view kDefaultPath = "/etc/halod/halod.toml";

// A model loaded when the daemon starts ([[preload]] tables).
struct Preload {
  std::filesystem::path path;         // required
  std::string backend = "auto";       // auto | vulkan | rocm | cpu
  bool pinned = false;                // never evicted
  std::optional<int64_t> keep_alive;  // seconds, -1 forever; nullopt: Config::keep_alive
};

struct Config {
  // Directories LoadModel(path) may open files from (after resolving symlinks).
  std::vector<std::filesystem::path> model_dirs{"/var/lib/halod/models", "/usr/share/halod/models"};
  std::vector<Preload> preload;
  std::string default_backend = "auto";  // auto | vulkan | rocm | cpu
  // Bytes of GTT kept back from the pool budget; nullopt: ttm::default_reserve(RAM).
  std::optional<uint64_t> reserve;
  int64_t keep_alive = 300;     // seconds a model stays after its last request; -1 forever
  uint32_t context_length = 0;  // default KV length; 0: min(model's own, 4096)

  // [queue]
  uint32_t max_queued = 8;              // waiting requests per model before Busy
  uint32_t max_tokens = 4096;           // upper limit of a request's max_tokens
  uint64_t max_prompt_bytes = 1 << 20;  // longest prompt accepted, in bytes

  // [polkit]
  bool polkit_in_session = false;  // ask polkit also when serving on the session bus

  std::filesystem::path sysfs_root = "/";                // where /sys, /proc, /dev are (tests)
  std::filesystem::path cache_dir = "/var/cache/halod";  // pipeline caches

  std::vector<std::filesystem::path> sources;  // files that were read, in order
};

struct LoadOptions {
  // true when the user named the file (halod --config FILE): missing is an
  // error then; the default path may be absent.
  bool main_must_exist = false;
};

// Reads main_file and the drop-ins in "<main_file>.d/". Throws ConfigError.
Config load(const std::filesystem::path& main_file = std::filesystem::path(kDefaultPath),
            const LoadOptions& options = {});

// Applies one TOML document on top of config (what load() does per file).
// source_name is used in error messages. Throws ConfigError.
void apply_toml(Config& config, std::string_view toml_text, std::string_view source_name);

// "4GiB", "512 MiB", "1.5G", "4096", "8GB": bytes. K/M/G/T and KiB/MiB/GiB/TiB
// are powers of 1024, kB/KB/MB/GB/TB powers of 1000, B or no unit bytes.
// Throws std::invalid_argument saying what is wrong.
uint64_t parse_size(std::string_view text);

}  // namespace halo::config
