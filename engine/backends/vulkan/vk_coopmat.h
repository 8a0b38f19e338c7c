// Whether the cooperative-matrix GEMM (shaders/matmul_cm.comp, rewritten to
// SPV_KHR_cooperative_matrix at build time) can run on a device.
#pragma once
#include <vulkan/vulkan.h>

#include <string>

#include "engine/backends/vulkan/vk_coopmat_khr.h"

namespace halo::vk {

// Why the device cannot run matmul_cm_* ("" when it can): it needs
// VK_KHR_cooperative_matrix with a subgroup-scope 16x16x16 f16 x f16 -> f32
// configuration in compute shaders, shaderFloat16 (f16 shared memory),
// vulkanMemoryModel (glslang emits NV cooperative matrices under the Vulkan
// memory model) and subgroups of 8..64 lanes (2..16 subgroups of a 128-lane
// workgroup; the kernel gives one subgroup at most 2 of its 4 warp tiles).
// HALO_VULKAN_COOPMAT=0 turns it off (the SIMT GEMM runs instead).
std::string coopmat_gemm_blocker(VkInstance instance, VkPhysicalDevice dev, uint32_t subgroup_size,
                                 bool has_extension);

}  // namespace halo::vk
