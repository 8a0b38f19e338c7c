// The Vulkan device the backend runs on: instance, device selection,
// features, one compute queue, buffers with device addresses, command
// streams and the on-disk pipeline cache.
#pragma once
#include <vulkan/vulkan.h>

// Vulkan structs are initialised as {sType} or {sType, pNext}, leaving the
// other members zero on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace halo::vk {

// Throws halo::Error: NoMemory for the out-of-memory results, Device for the
// rest (device lost included), naming what failed.
void check(VkResult result, const char* what);

struct Features {
  bool storage_16bit = false;
  bool int8 = false;
  bool subgroup_size_control = false;
  bool integer_dot_product = false;
  bool cooperative_matrix_khr = false;
  bool cooperative_matrix_nv = false;
  // Prompt GEMMs run on cooperative matrices (matmul_cm_*); else why not.
  bool coopmat_gemm = false;
  std::string coopmat_blocker;
  bool external_memory_fd = false;
  uint32_t subgroup_size = 0;
  uint32_t max_push_constants = 0;
  uint64_t max_allocation = 0;
  std::string summary() const;  // one line for the log
};

enum class MemoryUse {
  Device,    // GPU only: device-local
  Upload,    // written by the host, read by the GPU (coherent)
  Readback,  // written by the GPU, read by the host (cached where offered)
};

class Context;
class Profiler;

// A buffer with its own memory and device address. Move-only.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Context& ctx, uint64_t size, MemoryUse use, const std::string& what);
  ~Buffer() { reset(); }
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  void reset();

  VkBuffer handle() const { return buffer_; }
  uint64_t address() const { return address_; }
  uint64_t size() const { return size_; }
  void* host() const { return host_; }  // null unless host-visible

 private:
  Context* ctx_ = nullptr;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  uint64_t address_ = 0;
  uint64_t size_ = 0;
  void* host_ = nullptr;
};

// A command buffer with its pool and fence, for one thread of work.
// Makes the writes of earlier compute dispatches in cmd visible to later
// ones (compute stages only: a forward pass records no transfers).
void record_compute_barrier(VkCommandBuffer cmd);

class CommandStream {
 public:
  explicit CommandStream(Context& ctx);
  ~CommandStream();
  CommandStream(const CommandStream&) = delete;
  CommandStream& operator=(const CommandStream&) = delete;

  VkCommandBuffer begin();  // resets and begins recording
  void submit_and_wait();   // ends, submits, waits; throws Device on loss
  void submit();            // ends and submits; wait() before begin() again
  void wait();              // for the last submit; throws Device on loss
  // Makes the writes of earlier dispatches visible to later ones.
  void compute_barrier();
  // The same for transfers (fills, copies) on either side.
  void transfer_barrier();
  VkCommandBuffer cmd() const { return cmd_; }
  // Per-dispatch timing (HALO_VULKAN_PROFILE=1), else null.
  Profiler* profiler() const { return profiler_.get(); }

 private:
  Context& ctx_;
  std::unique_ptr<Profiler> profiler_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
};

class Context {
 public:
  // Picks a device (HALO_VULKAN_DEVICE=<index or name substring>, else the
  // best GPU). Throws halo::Error(Device) when none is usable.
  static std::unique_ptr<Context> create();
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  VkDevice device() const { return device_; }
  VkPhysicalDevice physical() const { return physical_; }
  const VkPhysicalDeviceProperties& properties() const { return props_; }
  const VkPhysicalDeviceMemoryProperties& memory() const { return mem_props_; }
  const Features& features() const { return features_; }
  const std::string& name() const { return name_; }
  bool is_discrete() const { return props_.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU; }

  // Memory type index for type_bits with all `required` flags, preferring
  // `preferred`; -1 if none.
  int find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                       VkMemoryPropertyFlags preferred) const;
  VkPipelineLayout pipeline_layout() const { return layout_; }
  VkPipelineCache pipeline_cache() const { return cache_; }

  // Queue submission is serialised; lost() turns true after VK_ERROR_DEVICE_LOST.
  void submit(VkCommandBuffer cmd, VkFence fence);
  void wait(VkFence fence);
  bool lost() const { return lost_; }
  // Test hook: the next wait reports VK_ERROR_DEVICE_LOST.
  void simulate_device_lost() { fault_ = true; }

 private:
  Context() = default;
  void pick_device();
  void create_device();
  void load_pipeline_cache();
  void save_pipeline_cache();
  void fail_lost(const char* what);

  VkInstance instance_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkPhysicalDeviceProperties props_{};
  VkPhysicalDeviceMemoryProperties mem_props_{};
  Features features_;
  std::string name_;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  std::string cache_path_;
  std::mutex queue_mu_;
  std::atomic<bool> lost_{false};
  std::atomic<bool> fault_{false};
  friend class CommandStream;
};

}  // namespace halo::vk
