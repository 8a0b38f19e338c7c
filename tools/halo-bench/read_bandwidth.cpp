#include "tools/halo-bench/read_bandwidth.h"

#include "engine/backend/backend.h"
#ifdef HALO_HAVE_VULKAN
#include "engine/backends/vulkan/vulkan_backend.h"
#endif

namespace halo::bench {

std::optional<double> measure_read_bandwidth(Backend& backend) {
#ifdef HALO_HAVE_VULKAN
  // The Vulkan backend's streaming-read shader over 1 GiB of device memory.
  if (backend.name() == "vulkan") return vulkan_read_bandwidth(backend) / 1e9;
#endif
  // The CPU backend reports no figure: halo-bench prints "read bandwidth: n/a".
  (void)backend;
  return std::nullopt;
}

}  // namespace halo::bench
