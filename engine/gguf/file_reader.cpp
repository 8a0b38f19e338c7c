#include "engine/gguf/file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "engine/error.h"

namespace halo::gguf {
namespace {

std::string errno_text() { return std::strerror(errno); }

// Errors by which O_DIRECT says no (this file system, or memory that cannot
// be the target of DMA such as a driver's mapping of GPU memory).
bool direct_refused(int err) { return err == EINVAL || err == EFAULT || err == EOPNOTSUPP || err == ENOTSUP; }

}  // namespace

FileReader::FileReader(int fd, std::string name) : FileReader(fd, std::move(name), false) {}

FileReader::FileReader(int fd, std::string name, bool owned) : fd_(fd), owned_(owned), name_(std::move(name)) {
  struct stat st {};
  if (fstat(fd_, &st) != 0) {
    const std::string why = errno_text();
    if (owned_) ::close(fd_);
    throw Error(ErrorKind::Io, "cannot stat " + name_ + ": " + why);
  }
  if (!S_ISREG(st.st_mode)) {
    if (owned_) ::close(fd_);
    throw Error(ErrorKind::Io, name_ + " is not a regular file");
  }
  if (st.st_size == 0) {
    if (owned_) ::close(fd_);
    throw Error(ErrorKind::BadModel, name_ + ": file is empty (not a GGUF model)");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

FileReader FileReader::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorKind::Io, "cannot open " + path + ": " + errno_text());
  return FileReader(fd, path, true);
}

FileReader::FileReader(FileReader&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), owned_(std::exchange(other.owned_, false)),
      name_(std::move(other.name_)), size_(other.size_) {}

FileReader::~FileReader() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

void FileReader::fail_short(uint64_t offset, const char* what) const {
  throw Error(ErrorKind::BadModel, name_ + ": the file ends at offset " + std::to_string(offset) + " while reading " +
                                       what + " (it was truncated or replaced while being read)");
}

void FileReader::read(uint64_t offset, void* dst, uint64_t n, const char* what) const {
  auto* out = static_cast<uint8_t*>(dst);
  for (uint64_t done = 0; done < n;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(n - done, kChunkBytes));
    const ssize_t r = ::pread(fd_, out + done, want, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorKind::Io, "cannot read " + name_ + " at offset " + std::to_string(offset + done) + ": " +
                                     errno_text());
    }
    if (r == 0) fail_short(offset + done, what);
    done += static_cast<uint64_t>(r);
  }
}

int FileReader::open_direct() const {
  // The same open file again, through /proc, so the client's descriptor
  // keeps its flags. Refused where halod may not open the file itself or
  // the file system has no O_DIRECT; the caller then reads buffered.
  const std::string path = "/proc/self/fd/" + std::to_string(fd_);
  const int direct = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (direct < 0) return -1;
  struct stat a {}, b {};
  if (fstat(fd_, &a) != 0 || fstat(direct, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
    ::close(direct);
    return -1;
  }
  return direct;
}

uint64_t FileReader::read_direct(int direct_fd, uint64_t begin, uint64_t end, uint8_t* dst,
                                 const std::function<void(uint64_t)>& after_chunk) const {
  const uint64_t base = direct_floor(begin), stop = direct_ceil(end);
  for (uint64_t pos = base; pos < end;) {
    const size_t want = static_cast<size_t>(std::min(kChunkBytes, stop - pos));
    const ssize_t r = ::pread(direct_fd, dst + (pos - base), want, static_cast<off_t>(pos));
    if (r < 0) {
      if (errno == EINTR) continue;
      if (direct_refused(errno)) return std::max(begin, pos);
      throw Error(ErrorKind::Io, "cannot read " + name_ + " at offset " + std::to_string(pos) + ": " + errno_text());
    }
    const uint64_t got = static_cast<uint64_t>(r);
    if (pos + got < end && (got == 0 || got % kDirectAlign != 0)) fail_short(pos + got, "tensor data");
    pos += got;
    if (after_chunk) after_chunk(std::min(pos, end) - begin);
  }
  return end;
}

void FileReader::read_range(uint64_t begin, uint64_t end, uint8_t* dst,
                            const std::function<void(uint64_t)>& after_chunk) const {
  if (end <= begin) return;
  const uint64_t base = direct_floor(begin);
  uint64_t pos = begin;
  if (reinterpret_cast<uintptr_t>(dst) % kDirectAlign == 0) {
    if (const int direct = open_direct(); direct >= 0) {
      try {
        pos = read_direct(direct, begin, end, dst, after_chunk);
      } catch (...) {
        ::close(direct);
        throw;
      }
      ::close(direct);
    }
  }
  while (pos < end) {
    const uint64_t n = std::min(kChunkBytes, end - pos);
    read(pos, dst + (pos - base), n, "tensor data");
    pos += n;
    if (after_chunk) after_chunk(pos - begin);
  }
}

}  // namespace halo::gguf
