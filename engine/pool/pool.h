// The resident pool: memory that holds model weights (and optionally KV
// caches) once, for every backend. The host pool backs the CPU backend; the
// Vulkan pool allocates exportable device memory (GTT on the APU) that the
// HIP backend will import. The budget comes from the caller (the daemon
// passes the TTM/GTT budget minus its reserve).
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace halo {

class Pool;

// One contiguous range inside a pool block. Released when destroyed.
class PoolAllocation {
 public:
  PoolAllocation(Pool* pool, void* host, uint64_t size, uint32_t block, uint64_t offset)
      : pool_(pool), host_(host), size_(size), block_(block), offset_(offset) {}
  ~PoolAllocation();
  PoolAllocation(const PoolAllocation&) = delete;
  PoolAllocation& operator=(const PoolAllocation&) = delete;

  Pool& pool() const { return *pool_; }
  void* host() const { return host_; }  // null when the memory is not host-visible
  uint64_t size() const { return size_; }
  uint32_t block() const { return block_; }    // which block of the pool
  uint64_t offset() const { return offset_; }  // byte offset inside that block

 private:
  Pool* pool_;
  void* host_;
  uint64_t size_;
  uint32_t block_;
  uint64_t offset_;
};

class Pool {
 public:
  explicit Pool(uint64_t budget) : budget_(budget) {}
  virtual ~Pool() = default;
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  virtual std::string kind() const = 0;  // "host", "vulkan"
  // Reserves bytes at an offset that is a multiple of align (a power of two
  // up to 4096). Throws halo::Error(NoMemory) with the amounts needed and
  // free when the budget or the device cannot give them.
  virtual std::unique_ptr<PoolAllocation> allocate(uint64_t bytes, const std::string& what, uint64_t align = 256) = 0;
  // The largest single allocation the memory allows.
  virtual uint64_t max_allocation() const { return UINT64_MAX; }
  // Copies bytes into an allocation (works whether or not it is host-visible).
  virtual void write(PoolAllocation& a, uint64_t offset, const void* src, uint64_t bytes) = 0;

  uint64_t budget() const { return budget_; }
  uint64_t used() const;
  uint64_t available() const;

 protected:
  friend class PoolAllocation;
  virtual void release(PoolAllocation& a) = 0;
  // Budget accounting for subclasses: reserve() throws NoMemory when over budget.
  void reserve(uint64_t bytes, const std::string& what);
  void unreserve(uint64_t bytes);

 private:
  uint64_t budget_;
  mutable std::mutex mu_;
  uint64_t used_ = 0;
};

// "1.5 GiB" / "624.0 MiB", for messages.
std::string format_bytes(uint64_t bytes);

// Host memory (anonymous mappings), for the CPU backend and for tests.
std::unique_ptr<Pool> make_host_pool(uint64_t budget);

}  // namespace halo
