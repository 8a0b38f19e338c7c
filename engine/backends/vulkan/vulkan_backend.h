// The Vulkan compute backend: every engine op as a GLSL compute shader
// (engine/backends/vulkan/shaders), weights in a Vulkan resident pool.
#pragma once
#include <memory>

#include "engine/backend/backend.h"

namespace halo {

// Creates the Vulkan backend on the best device (a discrete or integrated GPU
// before CPU implementations; HALO_VULKAN_DEVICE=<index or name substring>
// picks one). Throws halo::Error(Device) when no usable device exists.
std::unique_ptr<Backend> make_vulkan_backend();

}  // namespace halo
