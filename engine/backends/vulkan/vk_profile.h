// Optional GPU timing of each dispatch (HALO_VULKAN_PROFILE=1): a timestamp
// after every dispatch of a command buffer; the gap to the previous one is
// charged to the kernel variant. A summary per variant goes to stderr when
// the profiler is destroyed. Timestamps end each dispatch before the next
// starts, so overlapping dispatches are measured one after another.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/backends/vulkan/vk_context.h"

namespace halo::vk {

class Profiler {
 public:
  // Null unless HALO_VULKAN_PROFILE is set to a non-zero value and the queue has timestamps.
  static std::unique_ptr<Profiler> from_env(Context& ctx);
  explicit Profiler(Context& ctx);
  ~Profiler();
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  void begin(VkCommandBuffer cmd);                       // after vkBeginCommandBuffer
  void mark(VkCommandBuffer cmd, const std::string& what);  // after a dispatch
  void collect();                                        // after the submission completed

 private:
  struct Totals {
    uint64_t count = 0;
    double ns = 0;
  };
  static constexpr uint32_t kMaxQueries = 8192;
  Context& ctx_;
  VkQueryPool pool_ = VK_NULL_HANDLE;
  uint32_t used_ = 0;
  std::vector<std::string> names_;  // names_[i] ends at query i + 1
  std::map<std::string, Totals> totals_;
  uint64_t submissions_ = 0;
  double total_ns_ = 0;
};

}  // namespace halo::vk
