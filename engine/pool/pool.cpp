#include "engine/pool/pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "engine/error.h"

namespace halo {

std::string format_bytes(uint64_t bytes) {
  constexpr double kMiB = 1024.0 * 1024.0;
  char buf[64];
  if (bytes >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (kMiB * 1024.0));
  else std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / kMiB);
  return buf;
}

PoolAllocation::~PoolAllocation() { pool_->release(*this); }

uint64_t Pool::used() const {
  std::lock_guard lock(mu_);
  return used_;
}

uint64_t Pool::available() const {
  std::lock_guard lock(mu_);
  return budget_ > used_ ? budget_ - used_ : 0;
}

void Pool::reserve(uint64_t bytes, const std::string& what) {
  std::lock_guard lock(mu_);
  uint64_t free = budget_ > used_ ? budget_ - used_ : 0;
  if (bytes > free)
    throw Error(ErrorKind::NoMemory, what + " needs " + format_bytes(bytes) + " but the " +
                                         kind() + " pool has " + format_bytes(free) + " free of " +
                                         format_bytes(budget_));
  used_ += bytes;
}

void Pool::unreserve(uint64_t bytes) {
  std::lock_guard lock(mu_);
  used_ -= std::min(used_, bytes);
}

namespace {

// Host memory: one anonymous mapping per allocation, so freeing returns the
// pages to the kernel at once (models are large and few).
class HostPool final : public Pool {
 public:
  using Pool::Pool;
  std::string kind() const override { return "host"; }

  // Page-aligned whatever align asks (mmap).
  std::unique_ptr<PoolAllocation> allocate(uint64_t bytes, const std::string& what, uint64_t = 256) override {
    uint64_t size = (std::max<uint64_t>(bytes, 1) + 255) & ~uint64_t{255};
    reserve(size, what);
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      unreserve(size);
      throw Error(ErrorKind::NoMemory, what + ": cannot map " + format_bytes(size) + " of host memory: " +
                                           std::strerror(errno));
    }
    return std::make_unique<PoolAllocation>(this, p, size, 0, 0);
  }

  void write(PoolAllocation& a, uint64_t offset, const void* src, uint64_t bytes) override {
    if (offset > a.size() || bytes > a.size() - offset)
      throw Error(ErrorKind::InvalidArgument, "pool write past the end of an allocation");
    std::memcpy(static_cast<uint8_t*>(a.host()) + offset, src, bytes);
  }

 protected:
  void release(PoolAllocation& a) override {
    munmap(a.host(), a.size());
    unreserve(a.size());
  }
};

}  // namespace

std::unique_ptr<Pool> make_host_pool(uint64_t budget) { return std::make_unique<HostPool>(budget); }

}  // namespace halo
