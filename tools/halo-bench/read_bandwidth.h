// Streaming-read bandwidth of a backend's device, printed by halo-bench next
// to the effective bandwidth of generation.
#pragma once
#include <optional>

namespace halo {
class Backend;
}

namespace halo::bench {

// GB/s (1e9 bytes/s) that a simple kernel reading a large buffer reaches on
// the backend's device; nullopt when the backend has no such measurement.
std::optional<double> measure_read_bandwidth(Backend& backend);

}  // namespace halo::bench
