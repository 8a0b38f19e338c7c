// A read-only memory mapping of a whole file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace halo::gguf {

class MappedFile {
 public:
  // Throws halo::Error(Io) when the file cannot be opened or mapped, and
  // halo::Error(BadModel) when it is empty.
  static std::unique_ptr<MappedFile> open(const std::string& path);
  // Maps an already-open descriptor (not taken over: the caller closes it).
  static std::unique_ptr<MappedFile> from_fd(int fd, const std::string& name);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& name() const { return name_; }

 private:
  MappedFile(const uint8_t* data, size_t size, std::string name)
      : data_(data), size_(size), name_(std::move(name)) {}
  const uint8_t* data_;
  size_t size_;
  std::string name_;
};

}  // namespace halo::gguf
