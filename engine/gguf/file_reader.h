// Reading a model file with pread, never through a mapping: a file that is
// truncated or rewritten while it is read gives a short read, which becomes
// halo::Error(BadModel) naming the file and the offset, instead of a SIGBUS.
// Nothing read is kept pointing into the file; the descriptor is only used
// while a call runs.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace halo::gguf {

class FileReader {
 public:
  // Reads an already-open descriptor (not taken over: the caller closes it).
  // Throws halo::Error(Io) unless it is a regular file, BadModel when empty.
  FileReader(int fd, std::string name);
  // Opens path read-only (closed with the reader). Throws halo::Error(Io).
  static FileReader open(const std::string& path);
  ~FileReader();
  FileReader(FileReader&& other) noexcept;
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  FileReader& operator=(FileReader&&) = delete;

  const std::string& name() const { return name_; }
  uint64_t size() const { return size_; }  // when the reader was made

  // Exactly n bytes at offset into dst. Throws halo::Error(BadModel) when
  // the file ends first ("what" says what was being read), Io on errors.
  void read(uint64_t offset, void* dst, uint64_t n, const char* what) const;

  // The file range [begin, end) into memory in large sequential reads. dst
  // stands for file offset direct_floor(begin) and has room up to
  // direct_ceil(end); bytes of the region outside [begin, end) may receive
  // the file's neighbouring bytes. Where dst is kDirectAlign-aligned the
  // reads bypass the page cache (O_DIRECT) if the file system and the memory
  // allow it, and are buffered otherwise. after_chunk(bytes done) is called
  // after each chunk (tests truncate the file there).
  void read_range(uint64_t begin, uint64_t end, uint8_t* dst,
                  const std::function<void(uint64_t)>& after_chunk) const;

  // O_DIRECT's alignment of offsets, lengths and memory (every Linux block
  // device's logical block size divides it).
  static constexpr uint64_t kDirectAlign = 4096;
  static uint64_t direct_floor(uint64_t v) { return v / kDirectAlign * kDirectAlign; }
  static uint64_t direct_ceil(uint64_t v) { return direct_floor(v + kDirectAlign - 1); }
  // Bytes per read of read_range.
  static constexpr uint64_t kChunkBytes = uint64_t{16} << 20;

 private:
  FileReader(int fd, std::string name, bool owned);
  // A second descriptor of the same file opened O_DIRECT, or -1.
  int open_direct() const;
  // read_range with O_DIRECT; returns the file offset reached (at least
  // begin), short of end when the memory or the file refuses O_DIRECT.
  uint64_t read_direct(int direct_fd, uint64_t begin, uint64_t end, uint8_t* dst,
                       const std::function<void(uint64_t)>& after_chunk) const;
  [[noreturn]] void fail_short(uint64_t offset, const char* what) const;

  int fd_;
  bool owned_;
  std::string name_;
  uint64_t size_ = 0;
};

}  // namespace halo::gguf
