// Where the shared test fixtures are: $HALO_FIXTURES (meson test sets it from
// the fixtures_dir option), else ../shared/fixtures beside the source tree.
#pragma once
#include <cstdlib>
#include <string>

namespace halo::test {

inline std::string fixtures_dir() {
  if (const char* env = std::getenv("HALO_FIXTURES"); env && *env) return env;
  return "../shared/fixtures";
}

inline std::string fixture(const std::string& relative) { return fixtures_dir() + "/" + relative; }

}  // namespace halo::test
