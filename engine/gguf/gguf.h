// GGUF reader (versions 2 and 3), strictly validated, read with pread.
//
// Every count, length, offset and size read from the file is bounds-checked
// before use, so a malformed file yields halo::Error(BadModel) naming what is
// wrong and the byte offset where it was found, never a crash or a huge
// allocation. The header is copied into memory the File owns (views of
// strings and arrays point into it); nothing keeps the file open or mapped,
// so a file truncated or rewritten later cannot harm a File. The host memory
// a header costs is bounded by the limits below and known before it is
// allocated (scan()).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/quant/types.h"

namespace halo::gguf {

enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7,
  String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
};
std::string_view value_type_name(ValueType t);

struct Value {
  ValueType type = ValueType::U8;
  // Scalars: integers are widened to both fields, floats to f.
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  std::string_view str;
  // Arrays: elem_type and count; numeric elements stay raw in `raw`,
  // strings are in `strings`, nested arrays in `items`.
  ValueType elem_type = ValueType::U8;
  uint64_t count = 0;
  const uint8_t* raw = nullptr;
  std::vector<std::string_view> strings;
  std::vector<Value> items;

  bool is_integer() const;
  bool is_float() const { return type == ValueType::F32 || type == ValueType::F64; }
  // Array element i of a numeric array, widened (caller checks i < count).
  int64_t int_at(uint64_t i) const;
  double float_at(uint64_t i) const;
};

struct TensorInfo {
  std::string_view name;
  GgmlType type = GgmlType::F32;
  uint32_t n_dims = 0;
  uint64_t ne[4] = {1, 1, 1, 1};  // ne[0] is the contiguous (row) dimension
  uint64_t offset = 0;             // relative to the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  uint64_t file_offset = 0;        // absolute: data_offset() + offset
  const uint8_t* data = nullptr;   // the bytes, only when opened with Contents::All
};

// What File::open reads: the header alone (metadata and tensor infos; tensor
// data is read by its user, e.g. Model::load) or the whole file (tests and
// tools that look at tensor bytes of small files).
enum class Contents { Header, All };

// Limits on what a header may ask for; real models stay far below them
// (a 262k-token vocabulary is about 800k array elements and 10 MB).
inline constexpr uint64_t kMaxHeaderBytes = uint64_t{128} << 20;
inline constexpr uint64_t kMaxMetadataKeys = 1 << 16;
inline constexpr uint64_t kMaxTensors = 1 << 16;
inline constexpr uint64_t kMaxArrayElements = 1 << 22;  // all arrays of the file together

// A header's shape, read in constant memory (a window over the file) before
// anything is allocated for it, so a caller can count what opening it costs.
struct HeaderSummary {
  uint64_t file_size = 0;
  uint64_t header_bytes = 0;   // where the data section starts
  uint64_t n_metadata = 0;
  uint64_t n_tensors = 0;
  uint64_t tensor_bytes = 0;   // all tensors' n_bytes together
  uint64_t array_strings = 0;  // strings inside metadata arrays (vocabulary, merges)
  uint64_t array_string_bytes = 0;
  // Upper bound of the host memory File::open(Contents::Header) allocates.
  uint64_t host_bytes = 0;
};
class FileReader;

class File {
 public:
  // Reads and parses path. Throws halo::Error(Io) if it cannot be opened or
  // read, halo::Error(BadModel) if it is not valid GGUF or exceeds a limit.
  static std::unique_ptr<File> open(const std::string& path, Contents what = Contents::Header);
  // The same from a descriptor the caller opened (and closes; not kept).
  static std::unique_ptr<File> open_fd(int fd, const std::string& display_name, Contents what = Contents::Header);
  static std::unique_ptr<File> read(const FileReader& reader, Contents what = Contents::Header);
  // Checks the header's structure and limits without keeping it. Throws
  // like open. The summary bounds what open allocates on the host.
  static HeaderSummary scan(const FileReader& reader);
  static HeaderSummary scan_fd(int fd, const std::string& display_name);

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return file_size_; }
  const std::string& path() const { return name_; }
  // Host memory this File holds (its bound from the summary, plus tensor
  // data when opened with Contents::All).
  uint64_t host_bytes() const { return host_bytes_; }

  const std::vector<std::pair<std::string_view, Value>>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<uint64_t> get_uint(std::string_view key) const;  // any non-negative integer type
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;   // float or integer
  std::optional<bool> get_bool(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* tensor(std::string_view name) const;
  uint64_t tensor_bytes() const;  // sum of all tensors' n_bytes

 private:
  friend class Parser;
  File() = default;

  std::string name_;
  uint64_t file_size_ = 0;
  uint64_t host_bytes_ = 0;
  std::vector<uint8_t> header_;  // bytes [0, data_offset_) of the file
  std::vector<uint8_t> data_;    // Contents::All: bytes [data_offset_, file_size_)
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string_view, Value>> kv_;
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace halo::gguf
