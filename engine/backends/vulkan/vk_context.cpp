#include "engine/backends/vulkan/vk_context.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "engine/backends/vulkan/shaders/push.h"
#include "engine/backends/vulkan/vk_coopmat.h"
#include "engine/error.h"

namespace halo::vk {
namespace {

constexpr uint32_t kPushConstantBytes = 128;  // the minimum every device offers

bool has_extension(const std::vector<VkExtensionProperties>& exts, const char* name) {
  return std::any_of(exts.begin(), exts.end(),
                     [&](const VkExtensionProperties& e) { return std::string(e.extensionName) == name; });
}

std::vector<VkExtensionProperties> device_extensions(VkPhysicalDevice dev) {
  uint32_t n = 0;
  vkEnumerateDeviceExtensionProperties(dev, nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  vkEnumerateDeviceExtensionProperties(dev, nullptr, &n, exts.data());
  return exts;
}

// What the kernels cannot run without; empty when the device has it all.
std::string missing_requirements(VkPhysicalDevice dev) {
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(dev, &props);
  if (props.apiVersion < VK_API_VERSION_1_2) return "Vulkan 1.2";
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f12};
  vkGetPhysicalDeviceFeatures2(dev, &f2);
  if (!f12.bufferDeviceAddress) return "bufferDeviceAddress";
  if (!f2.features.shaderInt64) return "shaderInt64";
  VkPhysicalDeviceSubgroupProperties sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &sg};
  vkGetPhysicalDeviceProperties2(dev, &p2);
  if (!(sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) ||
      !(sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT))
    return "subgroup arithmetic in compute shaders";
  // matvec.comp keeps one shared-memory partial sum per subgroup, sized for subgroups of >= 4.
  if (sg.subgroupSize < 4) return "subgroups of at least 4 invocations";
  if (props.limits.maxPushConstantsSize < kPushConstantBytes) return "128 bytes of push constants";
  return "";
}

int device_rank(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string cache_directory() {
  if (const char* d = std::getenv("HALO_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/halod";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/halod";
  return "";
}

}  // namespace

void check(VkResult result, const char* what) {
  if (result == VK_SUCCESS) return;
  if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY || result == VK_ERROR_OUT_OF_HOST_MEMORY)
    throw Error(ErrorKind::NoMemory, std::string("Vulkan: ") + what + ": out of " +
                                         (result == VK_ERROR_OUT_OF_DEVICE_MEMORY ? "device" : "host") +
                                         " memory");
  throw Error(ErrorKind::Device, std::string("Vulkan: ") + what + " failed (VkResult " +
                                     std::to_string(static_cast<int>(result)) + ")");
}

std::string Features::summary() const {
  std::string s = "subgroup " + std::to_string(subgroup_size);
  auto flag = [&](bool on, const char* name) { s += std::string(", ") + name + (on ? " yes" : " no"); };
  flag(storage_16bit, "16-bit storage");
  flag(int8, "int8");
  flag(subgroup_size_control, "subgroup size control");
  flag(integer_dot_product, "integer dot product");
  flag(cooperative_matrix_khr || cooperative_matrix_nv, "cooperative matrix");
  flag(external_memory_fd, "external memory fd");
  s += coopmat_gemm ? ", GEMM coopmat f16" : ", GEMM simt f32 (coopmat: " + coopmat_blocker + ")";
  return s;
}

std::unique_ptr<Context> Context::create() {
  std::unique_ptr<Context> ctx(new Context());
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "halod";
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ici.pApplicationInfo = &app;
  VkResult r = vkCreateInstance(&ici, nullptr, &ctx->instance_);
  if (r != VK_SUCCESS)
    throw Error(ErrorKind::Device, "Vulkan: no instance (VkResult " + std::to_string(r) +
                                       "): is a Vulkan driver (ICD) installed?");
  ctx->pick_device();
  ctx->create_device();
  ctx->load_pipeline_cache();
  std::fprintf(stderr, "halo: vulkan device %s (%s)\n", ctx->name_.c_str(), ctx->features_.summary().c_str());
  return ctx;
}

void Context::pick_device() {
  uint32_t n = 0;
  vkEnumeratePhysicalDevices(instance_, &n, nullptr);
  std::vector<VkPhysicalDevice> devs(n);
  vkEnumeratePhysicalDevices(instance_, &n, devs.data());
  if (devs.empty()) throw Error(ErrorKind::Device, "Vulkan: no device found (no driver reports one)");

  const char* want = std::getenv("HALO_VULKAN_DEVICE");
  std::string listing, rejected;
  int best = -1, best_rank = -1;
  for (uint32_t i = 0; i < n; ++i) {
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(devs[i], &p);
    listing += (listing.empty() ? "" : ", ") + std::to_string(i) + ": " + p.deviceName;
    if (want && *want) {
      bool digits = std::all_of(want, want + std::strlen(want), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
      bool match = digits ? std::to_string(i) == want : lower(p.deviceName).find(lower(want)) != std::string::npos;
      if (!match) continue;
    }
    std::string missing = missing_requirements(devs[i]);
    if (!missing.empty()) {
      rejected += std::string(rejected.empty() ? "" : "; ") + p.deviceName + " lacks " + missing;
      continue;
    }
    if (device_rank(p.deviceType) > best_rank) best = static_cast<int>(i), best_rank = device_rank(p.deviceType);
  }
  if (best < 0) {
    std::string msg = "Vulkan: no usable device";
    if (want && *want) msg += " matches HALO_VULKAN_DEVICE=" + std::string(want);
    msg += " (devices: " + listing + ")";
    if (!rejected.empty()) msg += "; " + rejected;
    throw Error(ErrorKind::Device, msg);
  }
  physical_ = devs[best];
  vkGetPhysicalDeviceProperties(physical_, &props_);
  vkGetPhysicalDeviceMemoryProperties(physical_, &mem_props_);
  name_ = props_.deviceName;
}

void Context::create_device() {
  auto exts = device_extensions(physical_);
  VkPhysicalDeviceShaderIntegerDotProductFeatures fdot{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &fdot};
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &f12};
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f11};
  vkGetPhysicalDeviceFeatures2(physical_, &f2);
  VkPhysicalDeviceSubgroupProperties sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &sg};
  vkGetPhysicalDeviceProperties2(physical_, &p2);
  VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
  VkPhysicalDeviceProperties2 p3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &m3};
  vkGetPhysicalDeviceProperties2(physical_, &p3);

  features_.storage_16bit = f11.storageBuffer16BitAccess;
  features_.int8 = f12.shaderInt8;
  features_.subgroup_size = sg.subgroupSize;
  features_.subgroup_size_control = has_extension(exts, "VK_EXT_subgroup_size_control") ||
                                    props_.apiVersion >= VK_API_VERSION_1_3;
  features_.integer_dot_product =
      has_extension(exts, "VK_KHR_shader_integer_dot_product") && fdot.shaderIntegerDotProduct;
  features_.cooperative_matrix_khr = has_extension(exts, "VK_KHR_cooperative_matrix");
  features_.cooperative_matrix_nv = has_extension(exts, "VK_NV_cooperative_matrix");
  features_.external_memory_fd = has_extension(exts, "VK_KHR_external_memory_fd");
  features_.coopmat_blocker = coopmat_gemm_blocker(instance_, physical_, features_.subgroup_size,
                                                   features_.cooperative_matrix_khr);
  features_.coopmat_gemm = features_.coopmat_blocker.empty();
  features_.max_push_constants = props_.limits.maxPushConstantsSize;
  features_.max_allocation = m3.maxMemoryAllocationSize;

  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical_, &nq, nullptr);
  std::vector<VkQueueFamilyProperties> qf(nq);
  vkGetPhysicalDeviceQueueFamilyProperties(physical_, &nq, qf.data());
  int family = -1;
  for (uint32_t i = 0; i < nq && family < 0; ++i)
    if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) family = static_cast<int>(i);
  if (family < 0) throw Error(ErrorKind::Device, "Vulkan: " + name_ + " has no compute queue");
  queue_family_ = static_cast<uint32_t>(family);

  float priority = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = queue_family_;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;

  // Enable only what the kernels use, plus external memory for the pool.
  VkPhysicalDeviceVulkan12Features en12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  en12.bufferDeviceAddress = VK_TRUE;
  VkPhysicalDeviceFeatures2 en{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &en12};
  en.features.shaderInt64 = VK_TRUE;
  std::vector<const char*> enable;
  if (features_.external_memory_fd) enable.push_back("VK_KHR_external_memory_fd");
  VkPhysicalDeviceShaderIntegerDotProductFeatures en_dot{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES, en12.pNext};
  if (features_.integer_dot_product) {  // the decode matvec's 8-bit builds
    enable.push_back("VK_KHR_shader_integer_dot_product");
    en_dot.shaderIntegerDotProduct = VK_TRUE;
    en12.pNext = &en_dot;
  }
  VkPhysicalDeviceCooperativeMatrixFeaturesKHR en_cm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR};
  if (features_.coopmat_gemm) {
    enable.push_back(VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME);
    en_cm.cooperativeMatrix = VK_TRUE;
    en12.shaderFloat16 = VK_TRUE;
    en12.vulkanMemoryModel = VK_TRUE;
    en_cm.pNext = en12.pNext;
    en12.pNext = &en_cm;
  }

  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &en};
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  dci.enabledExtensionCount = static_cast<uint32_t>(enable.size());
  dci.ppEnabledExtensionNames = enable.data();
  check(vkCreateDevice(physical_, &dci, nullptr, &device_), "creating the device");
  vkGetDeviceQueue(device_, queue_family_, 0, &queue_);

  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushConstantBytes};
  VkPipelineLayoutCreateInfo lci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  lci.pushConstantRangeCount = 1;
  lci.pPushConstantRanges = &range;
  check(vkCreatePipelineLayout(device_, &lci, nullptr, &layout_), "creating the pipeline layout");
}

void Context::load_pipeline_cache() {
  std::string dir = cache_directory();
  std::vector<char> data;
  if (!dir.empty()) {
    char id[96];
    std::snprintf(id, sizeof id, "/vulkan-%04x-%04x-%08x.pipelines", props_.vendorID, props_.deviceID,
                  props_.driverVersion);
    cache_path_ = dir + id;
    std::ifstream in(cache_path_, std::ios::binary);
    if (in) data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // A stale or foreign file is harmless: the driver checks the header and
  // ignores data that is not its own.
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  ci.initialDataSize = data.size();
  ci.pInitialData = data.empty() ? nullptr : data.data();
  if (vkCreatePipelineCache(device_, &ci, nullptr, &cache_) != VK_SUCCESS) {
    ci.initialDataSize = 0;
    ci.pInitialData = nullptr;
    check(vkCreatePipelineCache(device_, &ci, nullptr, &cache_), "creating the pipeline cache");
  }
}

void Context::save_pipeline_cache() {
  if (cache_path_.empty() || cache_ == VK_NULL_HANDLE) return;
  size_t size = 0;
  if (vkGetPipelineCacheData(device_, cache_, &size, nullptr) != VK_SUCCESS || size == 0) return;
  std::vector<char> data(size);
  if (vkGetPipelineCacheData(device_, cache_, &size, data.data()) != VK_SUCCESS) return;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(cache_path_).parent_path(), ec);
  std::string tmp = cache_path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return;  // an unwritable cache directory only costs start-up time, ignoring
    out.write(data.data(), static_cast<std::streamsize>(size));
    if (!out) return;
  }
  std::filesystem::rename(tmp, cache_path_, ec);
}

Context::~Context() {
  if (device_ != VK_NULL_HANDLE) {
    vkDeviceWaitIdle(device_);
    if (!lost_) save_pipeline_cache();
    if (cache_) vkDestroyPipelineCache(device_, cache_, nullptr);
    if (layout_) vkDestroyPipelineLayout(device_, layout_, nullptr);
    vkDestroyDevice(device_, nullptr);
  }
  if (instance_ != VK_NULL_HANDLE) vkDestroyInstance(instance_, nullptr);
}

int Context::find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                              VkMemoryPropertyFlags preferred) const {
  int fallback = -1;
  for (uint32_t i = 0; i < mem_props_.memoryTypeCount; ++i) {
    if (!(type_bits & (1u << i))) continue;
    VkMemoryPropertyFlags f = mem_props_.memoryTypes[i].propertyFlags;
    if ((f & required) != required) continue;
    if ((f & preferred) == preferred) return static_cast<int>(i);
    if (fallback < 0) fallback = static_cast<int>(i);
  }
  return fallback;
}

void Context::fail_lost(const char* what) {
  lost_ = true;
  throw Error(ErrorKind::Device, std::string("Vulkan: device lost during ") + what + " on " + name_ +
                                     "; the request was abandoned");
}

void Context::submit(VkCommandBuffer cmd, VkFence fence) {
  if (lost_) throw Error(ErrorKind::Device, "Vulkan: device " + name_ + " was lost earlier; load the model again");
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd;
  std::lock_guard lock(queue_mu_);
  VkResult r = vkQueueSubmit(queue_, 1, &si, fence);
  if (r == VK_ERROR_DEVICE_LOST) fail_lost("submission");
  check(r, "submitting work");
}

void Context::wait(VkFence fence) {
  VkResult r = vkWaitForFences(device_, 1, &fence, VK_TRUE, UINT64_MAX);
  if (fault_.exchange(false)) r = VK_ERROR_DEVICE_LOST;
  if (r == VK_ERROR_DEVICE_LOST) fail_lost("execution");
  check(r, "waiting for the GPU");
}

}  // namespace halo::vk
