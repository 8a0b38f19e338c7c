// Kernel microbenchmarks: the decode matrix-vector product alone, per type
// and shape, to tell a kernel's bandwidth from the forward pass around it.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace halo {
class Backend;
}

namespace halo::bench {

// Prints one table row per spec "TYPE:ROWSxCOLS" (e.g. "q4_0:4096x4096"):
// microseconds per product with a barrier between products (as in a
// forward pass) and without (overlapped), and the weight bandwidth of each.
// Returns false (after printing why) for a bad spec or a backend without
// kernel benchmarks (only Vulkan has them).
bool bench_matvec(Backend& backend, const std::vector<std::string>& specs, std::optional<double> read_bw);

}  // namespace halo::bench
