// The resident pool's Vulkan side: large blocks of device memory (exportable
// as opaque fds where the driver allows, so the HIP backend can import
// them), sub-allocated for model weights. Host-visible memory is preferred
// where the GPU reads it at full speed (integrated GPUs: GTT on the APU;
// discrete GPUs with a full-size BAR); otherwise writes go through staging.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/backends/vulkan/vk_context.h"
#include "engine/pool/pool.h"

namespace halo::vk {

class VulkanPool final : public Pool {
 public:
  // budget 0: HALO_POOL_BUDGET (bytes, with an optional K/M/G suffix) or 90%
  // of the memory heap the pool allocates from.
  VulkanPool(Context& ctx, uint64_t budget);
  ~VulkanPool() override;

  std::string kind() const override { return "vulkan"; }
  std::unique_ptr<PoolAllocation> allocate(uint64_t bytes, const std::string& what, uint64_t align = 256) override;
  uint64_t max_allocation() const override { return ctx_.features().max_allocation; }
  void write(PoolAllocation& a, uint64_t offset, const void* src, uint64_t bytes) override;

  Context& context() const { return ctx_; }
  uint64_t device_address(const PoolAllocation& a) const;
  // An opaque fd for a block's memory (the caller owns it), or -1 when the
  // memory was not allocated exportable.
  int export_fd(uint32_t block) const;
  bool host_visible() const { return host_visible_; }
  uint64_t block_bytes() const;  // device memory held, including free space in blocks

 protected:
  void release(PoolAllocation& a) override;

 private:
  struct Block;
  void choose_memory_type();
  uint32_t create_block(uint64_t size, const std::string& what);

  Context& ctx_;
  int memory_type_ = -1;
  bool host_visible_ = false;
  bool exportable_ = false;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Block>> blocks_;  // null where a block was returned
  std::mutex staging_mu_;
  std::unique_ptr<CommandStream> stream_;
  Buffer staging_;
};

// The budget a pool on this device gets when the caller gives none.
uint64_t default_pool_budget(const Context& ctx);

}  // namespace halo::vk
