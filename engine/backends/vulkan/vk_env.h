// The Vulkan backend's settings from the environment (README: "The Vulkan
// backend: precision and settings"). Read when a context, Ops or runner is
// made, never per dispatch.
#pragma once
#include <cstdlib>
#include <string>

namespace halo::vk {

inline std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Whether the variable is set to "0" (switches that default to on).
inline bool env_is_zero(const char* name) { return env_or_empty(name) == "0"; }

}  // namespace halo::vk
