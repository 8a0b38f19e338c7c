#include "tools/halo-bench/read_bandwidth.h"

#include "engine/backend/backend.h"

namespace halo::bench {

std::optional<double> measure_read_bandwidth(Backend& backend) {
  // ---------------------------------------------------------------------
  // HOOK for the Vulkan backend (issue 4): when backend.name() == "vulkan",
  // run the streaming-read shader on backend's device here and return GB/s.
  // The CPU backend reports no figure: halo-bench prints "read bandwidth: n/a".
  // ---------------------------------------------------------------------
  (void)backend;
  return std::nullopt;
}

}  // namespace halo::bench
