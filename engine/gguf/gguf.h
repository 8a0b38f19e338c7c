// GGUF reader (versions 2 and 3), memory-mapped and strictly validated.
//
// Every count, length, offset and size read from the file is bounds-checked
// before use, so a malformed file yields halo::Error(BadModel) naming what is
// wrong and the byte offset where it was found, never a crash or a huge
// allocation. Views (strings, tensor data) point into the mapping and live as
// long as the File.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/gguf/mapped_file.h"
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
  const uint8_t* data = nullptr;   // into the mapping
};

class File {
 public:
  // Maps and parses path. Throws halo::Error(Io) if it cannot be opened,
  // halo::Error(BadModel) if it is not valid GGUF.
  static std::unique_ptr<File> open(const std::string& path);
  // Parses an existing mapping (LoadModelFd passes a descriptor the caller opened).
  static std::unique_ptr<File> open_fd(int fd, const std::string& display_name);

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return map_->size(); }
  const std::string& path() const { return map_->name(); }

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
  explicit File(std::unique_ptr<MappedFile> map) : map_(std::move(map)) {}

  std::unique_ptr<MappedFile> map_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string_view, Value>> kv_;
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace halo::gguf
