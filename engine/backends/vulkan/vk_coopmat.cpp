#include "engine/backends/vulkan/vk_coopmat.h"

#include <cstdlib>
#include <cstring>
#include <vector>

namespace halo::vk {
namespace {

bool disabled_by_env() {
  const char* v = std::getenv("HALO_VULKAN_COOPMAT");
  return v && std::strcmp(v, "0") == 0;
}

bool has_f16_16x16x16(VkInstance instance, VkPhysicalDevice dev) {
  auto get = reinterpret_cast<PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR>(
      vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR"));
  if (!get) return false;
  uint32_t n = 0;
  if (get(dev, &n, nullptr) != VK_SUCCESS || n == 0) return false;
  std::vector<VkCooperativeMatrixPropertiesKHR> props(n, {VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR});
  if (get(dev, &n, props.data()) != VK_SUCCESS) return false;
  for (uint32_t i = 0; i < n; ++i) {
    const auto& p = props[i];
    if (p.MSize == 16 && p.NSize == 16 && p.KSize == 16 && p.AType == VK_COMPONENT_TYPE_FLOAT16_KHR &&
        p.BType == VK_COMPONENT_TYPE_FLOAT16_KHR && p.CType == VK_COMPONENT_TYPE_FLOAT32_KHR &&
        p.ResultType == VK_COMPONENT_TYPE_FLOAT32_KHR && !p.saturatingAccumulation &&
        p.scope == VK_SCOPE_SUBGROUP_KHR)
      return true;
  }
  return false;
}

}  // namespace

std::string coopmat_gemm_blocker(VkInstance instance, VkPhysicalDevice dev, uint32_t subgroup_size,
                                 bool has_extension) {
  if (!has_extension) return "no VK_KHR_cooperative_matrix";
  if (disabled_by_env()) return "off (HALO_VULKAN_COOPMAT=0)";
  VkPhysicalDeviceCooperativeMatrixFeaturesKHR cm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR};
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &cm};
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f12};
  vkGetPhysicalDeviceFeatures2(dev, &f2);
  if (!cm.cooperativeMatrix) return "cooperativeMatrix feature off";
  if (!f12.shaderFloat16) return "no shaderFloat16";
  if (!f12.vulkanMemoryModel) return "no vulkanMemoryModel";
  VkPhysicalDeviceCooperativeMatrixPropertiesKHR cp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_PROPERTIES_KHR};
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &cp};
  vkGetPhysicalDeviceProperties2(dev, &p2);
  if (!(cp.cooperativeMatrixSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT)) return "not in compute shaders";
  if (subgroup_size < 8 || subgroup_size > 64) return "subgroup size " + std::to_string(subgroup_size);
  if (!has_f16_16x16x16(instance, dev)) return "no subgroup 16x16x16 f16->f32 configuration";
  return "";
}

}  // namespace halo::vk
