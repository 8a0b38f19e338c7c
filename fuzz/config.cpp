// halod's configuration parser (daemon/config) on arbitrary text: a document
// is applied or refused with a ConfigError naming the place; no other
// exception leaves it, and what it accepts obeys the documented ranges.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "daemon/config/config.h"
#include "fuzz/check.h"

namespace {

bool known_backend(const std::string& b) { return b == "auto" || b == "vulkan" || b == "rocm" || b == "cpu"; }

void check(const halo::config::Config& c) {
  FUZZ_CHECK(known_backend(c.default_backend));
  FUZZ_CHECK(c.keep_alive >= -1);
  for (const auto& p : c.preload) {
    FUZZ_CHECK(!p.path.empty());
    FUZZ_CHECK(known_backend(p.backend));
    FUZZ_CHECK(!p.keep_alive || *p.keep_alive >= -1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  halo::config::Config config;
  try {
    halo::config::apply_toml(config, text, "fuzz.toml");
    check(config);
  } catch (const halo::config::ConfigError& e) {
    FUZZ_CHECK(std::string_view(e.what()).substr(0, 10) == "fuzz.toml:");
  }
  // Sizes are also parsed on their own (reserve = "4GiB").
  const std::string_view first_line = text.substr(0, text.find('\n'));
  try {
    (void)halo::config::parse_size(first_line);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
