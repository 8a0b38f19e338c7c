// The libdrm DrmProbe: finds the first amdgpu render node and asks its
// driver for the GTT heap (AMDGPU_INFO_MEMORY: total and current usage).
#include <amdgpu.h>
#include <amdgpu_drm.h>
#include <fcntl.h>
#include <unistd.h>
#include <xf86drm.h>

#include <algorithm>
#include <string_view>
#include <system_error>

#include "daemon/ttm/ttm.h"

namespace halo::ttm {
namespace {

// Closes the descriptor when the probe of one node ends.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

bool driver_is_amdgpu(int fd) {
  drmVersionPtr version = drmGetVersion(fd);
  if (!version) return false;
  const bool amdgpu = version->name && std::string_view(version->name, version->name_len) == "amdgpu";
  drmFreeVersion(version);
  return amdgpu;
}

std::optional<DrmGtt> query_gtt(int fd, const std::string& device) {
  uint32_t major = 0, minor = 0;
  amdgpu_device_handle handle = nullptr;
  if (amdgpu_device_initialize(fd, &major, &minor, &handle) != 0) return std::nullopt;
  drm_amdgpu_memory_info memory{};
  const int rc = amdgpu_query_info(handle, AMDGPU_INFO_MEMORY, sizeof memory, &memory);
  amdgpu_device_deinitialize(handle);
  if (rc != 0) return std::nullopt;
  return DrmGtt{device, memory.gtt.total_heap_size, memory.gtt.heap_usage};
}

class LibdrmProbe final : public DrmProbe {
 public:
  explicit LibdrmProbe(std::filesystem::path root) : dri_(std::move(root) / "dev/dri") {}

  std::optional<DrmGtt> gtt() override {
    for (const auto& node : render_nodes()) {
      FileDescriptor fd(open(node.c_str(), O_RDWR | O_CLOEXEC));
      if (fd.get() < 0 || !driver_is_amdgpu(fd.get())) continue;
      if (auto gtt = query_gtt(fd.get(), "/dev/dri/" + node.filename().string())) return gtt;
    }
    return std::nullopt;
  }

 private:
  // renderD128, renderD129, ... in order, so the first GPU wins.
  std::vector<std::filesystem::path> render_nodes() const {
    std::vector<std::filesystem::path> nodes;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(dri_, ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
      if (it->path().filename().string().rfind("renderD", 0) == 0) nodes.push_back(it->path());
    }
    std::sort(nodes.begin(), nodes.end());
    return nodes;
  }

  std::filesystem::path dri_;
};

}  // namespace

std::unique_ptr<DrmProbe> make_libdrm_probe(const std::filesystem::path& root) {
  return std::make_unique<LibdrmProbe>(root);
}

}  // namespace halo::ttm
