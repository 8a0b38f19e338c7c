// Which backends exist in this build and on this machine, and how "auto" picks one.
#include <string>

#include "engine/backend/backend.h"
#include "engine/backends/cpu/cpu_backend.h"
#include "engine/error.h"
#ifdef HALO_HAVE_VULKAN
#include "engine/backends/vulkan/vulkan_backend.h"
#endif

namespace halo {
namespace {

// Compiled-in backends, best first, excluding the CPU one (always last).
const char* const kGpuBackends[] = {
#ifdef HALO_HAVE_VULKAN
    "vulkan",
#endif
    nullptr,
};

std::unique_ptr<Backend> create_gpu_backend(std::string_view name) {
#ifdef HALO_HAVE_VULKAN
  if (name == "vulkan") return make_vulkan_backend();
#endif
  throw Error(ErrorKind::Device, "backend '" + std::string(name) + "' is not built into this program");
}

std::string known_names() {
  std::string names;
  for (const char* const* n = kGpuBackends; *n; ++n) names += std::string(*n) + ", ";
  return names + "cpu, auto";
}

}  // namespace

std::vector<BackendInfo> list_backends() {
  std::vector<BackendInfo> out;
  for (const char* const* n = kGpuBackends; *n; ++n) {
    try {
      auto b = create_gpu_backend(*n);
      out.push_back({b->name(), b->device_name()});
    } catch (const Error&) {
      // Compiled in but unusable here (no device): not listed.
    }
  }
  out.push_back({"cpu", cpu::cpu_model_name()});
  return out;
}

std::unique_ptr<Backend> create_backend(std::string_view name) {
  if (name == "cpu") return make_cpu_backend();
  if (name == "auto") {
    for (const char* const* n = kGpuBackends; *n; ++n) {
      try {
        return create_gpu_backend(*n);
      } catch (const Error&) {
        // Not usable on this machine; try the next one.
      }
    }
    return make_cpu_backend();
  }
  for (const char* const* n = kGpuBackends; *n; ++n)
    if (name == *n) return create_gpu_backend(name);
  if (name == "vulkan" || name == "rocm")
    throw Error(ErrorKind::Device, "backend '" + std::string(name) + "' is not built into this program");
  throw Error(ErrorKind::InvalidArgument,
              "unknown backend '" + std::string(name) + "' (known: " + known_names() + ")");
}

}  // namespace halo
