// The Vulkan compute backend: every engine op as a GLSL compute shader
// (engine/backends/vulkan/shaders), weights in a Vulkan resident pool.
#pragma once
#include <cstdint>
#include <memory>

#include "engine/backend/backend.h"

namespace halo {

// Creates the Vulkan backend on the best device (a discrete or integrated GPU
// before CPU implementations; HALO_VULKAN_DEVICE=<index or name substring>
// picks one). Throws halo::Error(Device) when no usable device exists.
std::unique_ptr<Backend> make_vulkan_backend();
// The same with the pool's budget in bytes (the daemon passes its TTM/GTT
// budget); 0 means HALO_POOL_BUDGET or 90% of the pool's memory heap.
// Models loaded into pool() must be destroyed before the backend.
std::unique_ptr<Backend> make_vulkan_backend(uint64_t pool_budget);

// Measured streaming-read bandwidth of a Vulkan backend's device in bytes
// per second: a read-only shader over `bytes` of device memory, best of
// `reps` timed passes (halo-bench prints it beside generation bandwidth).
// Throws halo::Error(InvalidArgument) if backend is not a Vulkan backend.
double vulkan_read_bandwidth(Backend& backend, uint64_t bytes = 1ull << 30, int reps = 5);

// Microbenchmark of the one-token matrix-vector product (decode's main
// kernel): `dispatches` products of a rows x cols matrix of `type` recorded
// in one command buffer, with a barrier between them when `dependent` (as
// in a forward pass) or none (so they overlap), timed on the host; returns
// seconds per product, best of `reps` submits. Weights hold a fixed byte
// pattern: the time does not depend on the values. The products cycle
// through copies of the matrix filling at least 256 MiB, so they read
// memory, not a cache that holds one matrix (an H100's L2 holds 50 MB).
// The input is f32, or (Quantized) an 8-bit quantize_input output, or
// (QuantizeEachStep) quantized by its own dispatch before every product.
enum class MatvecInput { Float, Quantized, QuantizeEachStep };
double vulkan_matvec_seconds(Backend& backend, uint32_t type, uint32_t rows, uint32_t cols, bool dependent,
                             MatvecInput input = MatvecInput::Float, int dispatches = 200, int reps = 5);
// Whether the Vulkan device runs products of this type on a quantized input.
bool vulkan_reads_quantized_input(Backend& backend, uint32_t type);

// Test hook: the next wait on this backend's device reports
// VK_ERROR_DEVICE_LOST, as a hung or reset GPU would.
void vulkan_simulate_device_lost(Backend& backend);

}  // namespace halo
