// Buffers with device addresses, and command streams.
#include <algorithm>
#include <cstring>
#include <utility>

#include "engine/backends/vulkan/vk_context.h"
#include "engine/backends/vulkan/vk_profile.h"
#include "engine/error.h"

namespace halo::vk {

Buffer::Buffer(Context& ctx, uint64_t size, MemoryUse use, const std::string& what) : ctx_(&ctx) {
  // 16 spare bytes: kernels read quantized blocks through 32-bit words and may
  // touch up to 3 bytes past a tensor's end.
  size_ = (std::max<uint64_t>(size, 16) + 16 + 15) & ~uint64_t{15};
  VkDevice dev = ctx.device();
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = size_;
  bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT |
              VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check(vkCreateBuffer(dev, &bci, nullptr, &buffer_), ("creating a buffer for " + what).c_str());
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev, buffer_, &req);

  VkMemoryPropertyFlags required = 0, preferred = 0;
  switch (use) {
    case MemoryUse::Device: preferred = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT; break;
    case MemoryUse::Upload:
      required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      break;
    case MemoryUse::Readback:
      required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      preferred = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
      break;
  }
  int type = ctx.find_memory_type(req.memoryTypeBits, required, preferred);
  if (type < 0) {
    reset();
    throw Error(ErrorKind::Device, "Vulkan: no suitable memory type for " + what);
  }
  VkMemoryAllocateFlagsInfo flags{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO};
  flags.flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT;
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &flags};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = static_cast<uint32_t>(type);
  VkResult r = vkAllocateMemory(dev, &mai, nullptr, &memory_);
  if (r != VK_SUCCESS) {
    reset();
    check(r, ("allocating " + std::to_string(size >> 20) + " MiB for " + what).c_str());
  }
  check(vkBindBufferMemory(dev, buffer_, memory_, 0), "binding buffer memory");
  if (ctx.memory().memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)
    check(vkMapMemory(dev, memory_, 0, VK_WHOLE_SIZE, 0, &host_), "mapping a buffer");
  VkBufferDeviceAddressInfo ai{VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO};
  ai.buffer = buffer_;
  address_ = vkGetBufferDeviceAddress(dev, &ai);
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    reset();
    ctx_ = std::exchange(o.ctx_, nullptr);
    buffer_ = std::exchange(o.buffer_, VK_NULL_HANDLE);
    memory_ = std::exchange(o.memory_, VK_NULL_HANDLE);
    address_ = std::exchange(o.address_, 0);
    size_ = std::exchange(o.size_, 0);
    host_ = std::exchange(o.host_, nullptr);
  }
  return *this;
}

void Buffer::reset() {
  if (!ctx_) return;
  if (buffer_) vkDestroyBuffer(ctx_->device(), buffer_, nullptr);
  if (memory_) vkFreeMemory(ctx_->device(), memory_, nullptr);  // unmaps too
  buffer_ = VK_NULL_HANDLE;
  memory_ = VK_NULL_HANDLE;
  host_ = nullptr;
  address_ = 0;
  size_ = 0;
  ctx_ = nullptr;
}

CommandStream::CommandStream(Context& ctx) : ctx_(ctx) {
  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = ctx.queue_family_;
  check(vkCreateCommandPool(ctx.device(), &pci, nullptr, &pool_), "creating a command pool");
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  check(vkAllocateCommandBuffers(ctx.device(), &ai, &cmd_), "allocating a command buffer");
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  check(vkCreateFence(ctx.device(), &fci, nullptr, &fence_), "creating a fence");
  profiler_ = Profiler::from_env(ctx);
}

CommandStream::~CommandStream() {
  profiler_.reset();
  vkDestroyFence(ctx_.device(), fence_, nullptr);
  vkDestroyCommandPool(ctx_.device(), pool_, nullptr);
}

VkCommandBuffer CommandStream::begin() {
  check(vkResetCommandBuffer(cmd_, 0), "resetting a command buffer");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check(vkBeginCommandBuffer(cmd_, &bi), "beginning a command buffer");
  if (profiler_) profiler_->begin(cmd_);
  return cmd_;
}

void CommandStream::submit_and_wait() {
  submit();
  wait();
}

void CommandStream::submit() {
  check(vkEndCommandBuffer(cmd_), "recording commands");
  check(vkResetFences(ctx_.device(), 1, &fence_), "resetting a fence");
  ctx_.submit(cmd_, fence_);
}

void CommandStream::wait() {
  ctx_.wait(fence_);
  if (profiler_) profiler_->collect();
}

// Compute stages only: a forward pass records no transfers, so its
// barriers need not wait on or flush for the transfer stage.
void record_compute_barrier(VkCommandBuffer cmd) {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0,
                       nullptr, 0, nullptr);
}

void CommandStream::compute_barrier() { record_compute_barrier(cmd_); }

void CommandStream::transfer_barrier() {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0,
                       nullptr, 0, nullptr);
}

}  // namespace halo::vk
