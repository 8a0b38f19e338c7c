#include "engine/gguf/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/error.h"

namespace halo::gguf {
namespace {

std::string errno_text() { return std::strerror(errno); }

}  // namespace

std::unique_ptr<MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorKind::Io, "cannot open " + path + ": " + errno_text());
  try {
    auto map = from_fd(fd, path);
    ::close(fd);
    return map;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

std::unique_ptr<MappedFile> MappedFile::from_fd(int fd, const std::string& name) {
  struct stat st {};
  if (fstat(fd, &st) != 0) throw Error(ErrorKind::Io, "cannot stat " + name + ": " + errno_text());
  if (!S_ISREG(st.st_mode)) throw Error(ErrorKind::Io, name + " is not a regular file");
  if (st.st_size == 0) throw Error(ErrorKind::BadModel, name + ": file is empty (not a GGUF model)");
  size_t size = static_cast<size_t>(st.st_size);
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) throw Error(ErrorKind::Io, "cannot map " + name + ": " + errno_text());
  return std::unique_ptr<MappedFile>(new MappedFile(static_cast<const uint8_t*>(p), size, name));
}

MappedFile::~MappedFile() { munmap(const_cast<uint8_t*>(data_), size_); }

}  // namespace halo::gguf
