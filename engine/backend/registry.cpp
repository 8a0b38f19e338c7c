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

// Vulkan drivers that run on the CPU (Mesa's lavapipe, SwiftShader) work,
// but the native CPU backend is faster than them: they rank after it.
bool is_software_device(const std::string& device) {
  for (const char* marker : {"llvmpipe", "lavapipe", "SwiftShader"})
    if (device.find(marker) != std::string::npos) return true;
  return false;
}

std::string known_names() {
  std::string names;
  for (const char* const* n = kGpuBackends; *n; ++n) names += std::string(*n) + ", ";
  return names + "cpu, auto";
}

}  // namespace

std::vector<BackendInfo> list_backends() {
  std::vector<BackendInfo> hardware, software;
  for (const char* const* n = kGpuBackends; *n; ++n) {
    try {
      auto b = create_gpu_backend(*n);
      BackendInfo info{b->name(), b->device_name()};
      (is_software_device(info.device) ? software : hardware).push_back(info);
    } catch (const Error&) {
      // Compiled in but unusable here (no device): not listed.
    }
  }
  hardware.push_back({"cpu", cpu::cpu_model_name()});
  hardware.insert(hardware.end(), software.begin(), software.end());
  return hardware;
}

std::unique_ptr<Backend> create_backend(std::string_view name) {
  if (name == "cpu") return make_cpu_backend();
  if (name == "auto") {
    for (const char* const* n = kGpuBackends; *n; ++n) {
      try {
        auto b = create_gpu_backend(*n);
        if (!is_software_device(b->device_name())) return b;
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
