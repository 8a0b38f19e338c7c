#include "engine/backends/vulkan/vk_pool.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/error.h"

namespace halo::vk {
namespace {

constexpr uint64_t kAlign = 256;
constexpr uint64_t kBlockBytes = 256ull << 20;   // blocks grow in this step
constexpr uint64_t kStagingBytes = 64ull << 20;  // upload chunk for device-only memory
constexpr VkBufferUsageFlags kBlockUsage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT |
                                           VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

std::string mib(uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

// Memory the pool allocates from: on integrated GPUs the largest
// host-visible heap (GTT: the same DRAM the GPU reads at full speed); on
// discrete GPUs device-local memory, host-visible too when the BAR spans it.
int pool_memory_type(const Context& ctx, uint32_t type_bits, bool* host_visible) {
  const auto& mp = ctx.memory();
  constexpr VkMemoryPropertyFlags kHost = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  constexpr VkMemoryPropertyFlags kLocal = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  auto heap_of = [&](uint32_t t) { return mp.memoryHeaps[mp.memoryTypes[t].heapIndex].size; };
  uint64_t largest_local = 0;
  for (uint32_t t = 0; t < mp.memoryTypeCount; ++t)
    if (mp.memoryTypes[t].propertyFlags & kLocal) largest_local = std::max(largest_local, heap_of(t));

  int best = -1;
  uint64_t best_heap = 0;
  auto consider = [&](VkMemoryPropertyFlags required, uint64_t min_heap) {
    for (uint32_t t = 0; t < mp.memoryTypeCount; ++t) {
      if (!(type_bits & (1u << t))) continue;
      if ((mp.memoryTypes[t].propertyFlags & required) != required || heap_of(t) < min_heap) continue;
      if (heap_of(t) > best_heap) best = static_cast<int>(t), best_heap = heap_of(t);
    }
  };
  if (!ctx.is_discrete()) consider(kHost, 0);
  if (best < 0) consider(kHost | kLocal, largest_local * 8 / 10);  // resizable BAR
  if (best < 0) consider(kLocal, 0);
  if (best < 0) consider(0, 0);
  *host_visible = best >= 0 && (mp.memoryTypes[best].propertyFlags & kHost) == kHost;
  return best;
}

uint64_t parse_bytes(const char* s) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (end == s || v <= 0) return 0;
  switch (*end) {
    case 'k': case 'K': v *= 1024.0; break;
    case 'm': case 'M': v *= 1024.0 * 1024.0; break;
    case 'g': case 'G': v *= 1024.0 * 1024.0 * 1024.0; break;
    default: break;
  }
  return static_cast<uint64_t>(v);
}

}  // namespace

struct VulkanPool::Block {
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkBuffer buffer = VK_NULL_HANDLE;
  uint64_t address = 0;
  uint64_t size = 0;
  uint8_t* host = nullptr;
  std::map<uint64_t, uint64_t> free;  // offset -> size of each free range
};

uint64_t default_pool_budget(const Context& ctx) {
  if (const char* env = std::getenv("HALO_POOL_BUDGET"); env && *env) {
    if (uint64_t b = parse_bytes(env)) return b;
  }
  bool host = false;
  int type = pool_memory_type(ctx, ~0u, &host);
  if (type < 0) return 0;
  return ctx.memory().memoryHeaps[ctx.memory().memoryTypes[type].heapIndex].size / 10 * 9;
}

VulkanPool::VulkanPool(Context& ctx, uint64_t budget)
    : Pool(budget ? budget : default_pool_budget(ctx)), ctx_(ctx) {
  if (ctx.features().external_memory_fd) {
    VkPhysicalDeviceExternalBufferInfo info{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_BUFFER_INFO};
    info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    info.handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT;
    VkExternalBufferProperties props{VK_STRUCTURE_TYPE_EXTERNAL_BUFFER_PROPERTIES};
    vkGetPhysicalDeviceExternalBufferProperties(ctx.physical(), &info, &props);
    exportable_ = props.externalMemoryProperties.externalMemoryFeatures & VK_EXTERNAL_MEMORY_FEATURE_EXPORTABLE_BIT;
  }
  // The memory types a pool block's buffer accepts (export changes them on some drivers).
  VkExternalMemoryBufferCreateInfo ext_buf{VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO};
  ext_buf.handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT;
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, exportable_ ? &ext_buf : nullptr};
  bci.size = 1 << 20;
  bci.usage = kBlockUsage;
  VkBuffer probe;
  check(vkCreateBuffer(ctx.device(), &bci, nullptr, &probe), "creating a probe buffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(ctx.device(), probe, &req);
  vkDestroyBuffer(ctx.device(), probe, nullptr);
  memory_type_ = pool_memory_type(ctx, req.memoryTypeBits, &host_visible_);
  if (memory_type_ < 0) throw Error(ErrorKind::Device, "Vulkan: " + ctx.name() + " offers no memory for the pool");
}

VulkanPool::~VulkanPool() {
  for (auto& b : blocks_) {
    if (!b) continue;
    vkDestroyBuffer(ctx_.device(), b->buffer, nullptr);
    vkFreeMemory(ctx_.device(), b->memory, nullptr);
  }
}

uint32_t VulkanPool::create_block(uint64_t size, const std::string& what) {
  VkDevice dev = ctx_.device();
  auto block = std::make_unique<Block>();
  block->size = size;
  VkExternalMemoryBufferCreateInfo ext_buf{VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO};
  ext_buf.handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT;
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, exportable_ ? &ext_buf : nullptr};
  bci.size = size;
  bci.usage = kBlockUsage;
  check(vkCreateBuffer(dev, &bci, nullptr, &block->buffer), ("creating a pool block for " + what).c_str());
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev, block->buffer, &req);
  uint32_t type = static_cast<uint32_t>(memory_type_);
  if (!(req.memoryTypeBits & (1u << type))) {
    vkDestroyBuffer(dev, block->buffer, nullptr);
    throw Error(ErrorKind::Device, "Vulkan: the pool's memory type cannot hold buffers on " + ctx_.name());
  }
  VkExportMemoryAllocateInfo export_info{VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO};
  export_info.handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT;
  VkMemoryAllocateFlagsInfo flags{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO, exportable_ ? &export_info : nullptr};
  flags.flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT;
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &flags};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = type;
  VkResult r = vkAllocateMemory(dev, &mai, nullptr, &block->memory);
  if (r != VK_SUCCESS) {
    vkDestroyBuffer(dev, block->buffer, nullptr);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
      throw Error(ErrorKind::NoMemory, what + ": " + ctx_.name() + " is out of memory for a " + mib(size) +
                                           " pool block (pool holds " + mib(block_bytes()) + ", budget " +
                                           mib(budget()) + ", largest allocation the driver promises " +
                                           mib(ctx_.features().max_allocation) + ")");
    check(r, "allocating pool memory");
  }
  check(vkBindBufferMemory(dev, block->buffer, block->memory, 0), "binding pool memory");
  if (host_visible_) {
    void* p = nullptr;
    check(vkMapMemory(dev, block->memory, 0, VK_WHOLE_SIZE, 0, &p), "mapping pool memory");
    block->host = static_cast<uint8_t*>(p);
  }
  VkBufferDeviceAddressInfo ai{VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO};
  ai.buffer = block->buffer;
  block->address = vkGetBufferDeviceAddress(dev, &ai);
  block->free[0] = size;
  for (uint32_t i = 0; i < blocks_.size(); ++i) {
    if (!blocks_[i]) {
      blocks_[i] = std::move(block);
      return i;
    }
  }
  blocks_.push_back(std::move(block));
  return static_cast<uint32_t>(blocks_.size() - 1);
}

uint64_t VulkanPool::block_bytes() const {
  uint64_t total = 0;
  for (const auto& b : blocks_)
    if (b) total += b->size;
  return total;
}

std::unique_ptr<PoolAllocation> VulkanPool::allocate(uint64_t bytes, const std::string& what, uint64_t align) {
  align = std::max(align, kAlign);
  // 16 spare bytes: kernels read blocks through 32-bit words, a little past the end.
  uint64_t size = align_up(std::max<uint64_t>(bytes, 1) + 16, kAlign);
  reserve(size, what);  // throws NoMemory over budget
  std::lock_guard lock(mu_);
  try {
    for (uint32_t i = 0; i < blocks_.size(); ++i) {
      if (!blocks_[i]) continue;
      auto& free = blocks_[i]->free;
      for (auto it = free.begin(); it != free.end(); ++it) {
        const uint64_t start = it->first, end = it->first + it->second, offset = align_up(start, align);
        if (offset + size > end) continue;
        free.erase(it);
        if (offset > start) free[start] = offset - start;  // the padding stays free
        if (end > offset + size) free[offset + size] = end - offset - size;
        uint8_t* host = blocks_[i]->host ? blocks_[i]->host + offset : nullptr;
        return std::make_unique<PoolAllocation>(this, host, size, i, offset);
      }
    }
    // Larger than maxMemoryAllocationSize is tried anyway: drivers (NVIDIA's
    // says 4 GiB) usually grant it, and a refusal is reported as NoMemory.
    uint64_t room = budget() > block_bytes() ? budget() - block_bytes() : 0;
    uint64_t block_size = std::max(size, std::min(kBlockBytes, align_up(room, kAlign)));
    uint32_t b = create_block(block_size, what);
    auto& free = blocks_[b]->free;
    free.clear();
    if (block_size > size) free[size] = block_size - size;
    return std::make_unique<PoolAllocation>(this, blocks_[b]->host, size, b, 0);
  } catch (...) {
    unreserve(size);
    throw;
  }
}

void VulkanPool::release(PoolAllocation& a) {
  {
    std::lock_guard lock(mu_);
    Block* b = a.block() < blocks_.size() ? blocks_[a.block()].get() : nullptr;
    if (b) {
      auto& free = b->free;
      auto [it, inserted] = free.emplace(a.offset(), a.size());
      auto next = std::next(it);
      if (next != free.end() && it->first + it->second == next->first) {
        it->second += next->second;
        free.erase(next);
      }
      if (it != free.begin()) {
        auto prev = std::prev(it);
        if (prev->first + prev->second == it->first) {
          prev->second += it->second;
          free.erase(it);
        }
      }
      // An empty block goes back to the driver: the memory is shared with
      // other programs (and, on the APU, with the CPU).
      if (free.size() == 1 && free.begin()->first == 0 && free.begin()->second == b->size) {
        vkDestroyBuffer(ctx_.device(), b->buffer, nullptr);
        vkFreeMemory(ctx_.device(), b->memory, nullptr);
        blocks_[a.block()].reset();
      }
    }
  }
  unreserve(a.size());
}

uint64_t VulkanPool::device_address(const PoolAllocation& a) const {
  std::lock_guard lock(mu_);
  return blocks_.at(a.block())->address + a.offset();
}

int VulkanPool::export_fd(uint32_t block) const {
  std::lock_guard lock(mu_);
  if (!exportable_ || block >= blocks_.size() || !blocks_[block]) return -1;
  auto get_fd = reinterpret_cast<PFN_vkGetMemoryFdKHR>(vkGetDeviceProcAddr(ctx_.device(), "vkGetMemoryFdKHR"));
  if (!get_fd) return -1;
  VkMemoryGetFdInfoKHR info{VK_STRUCTURE_TYPE_MEMORY_GET_FD_INFO_KHR};
  info.memory = blocks_[block]->memory;
  info.handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT;
  int fd = -1;
  return get_fd(ctx_.device(), &info, &fd) == VK_SUCCESS ? fd : -1;
}

void VulkanPool::write(PoolAllocation& a, uint64_t offset, const void* src, uint64_t bytes) {
  if (offset > a.size() || bytes > a.size() - offset)
    throw Error(ErrorKind::InvalidArgument, "pool write past the end of an allocation");
  if (a.host()) {
    std::memcpy(static_cast<uint8_t*>(a.host()) + offset, src, bytes);
    return;
  }
  std::lock_guard lock(staging_mu_);
  if (!stream_) {
    stream_ = std::make_unique<CommandStream>(ctx_);
    staging_ = Buffer(ctx_, kStagingBytes, MemoryUse::Upload, "pool staging");
  }
  VkBuffer dst;
  {
    std::lock_guard block_lock(mu_);
    dst = blocks_.at(a.block())->buffer;
  }
  const auto* p = static_cast<const uint8_t*>(src);
  for (uint64_t done = 0; done < bytes;) {
    uint64_t n = std::min(kStagingBytes, bytes - done);
    std::memcpy(staging_.host(), p + done, n);
    VkCommandBuffer cmd = stream_->begin();
    VkBufferCopy region{0, a.offset() + offset + done, n};
    vkCmdCopyBuffer(cmd, staging_.handle(), dst, 1, &region);
    stream_->submit_and_wait();
    done += n;
  }
}

}  // namespace halo::vk
