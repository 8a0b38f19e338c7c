// GGUF v3 writer: collects metadata and tensors, then writes the file in one
// pass. Tensor data can come from a producer callback that streams it while
// the file is written, so multi-GiB models never sit in memory whole.
//
// Misuse (duplicate key or tensor name, bad shape, wrong byte count) throws
// halo::Error(InvalidArgument); failure to write the file throws
// halo::Error(Io). The file is written to "<path>.tmp" and renamed into place
// only when complete.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/quant/types.h"

namespace halo::gguf {

// Receives a tensor's bytes from a producer, in order, in pieces of any size.
class TensorSink {
 public:
  virtual ~TensorSink() = default;
  virtual void write(const void* data, size_t size) = 0;
};

class Writer {
 public:
  static constexpr uint32_t kDefaultAlignment = 32;
  static constexpr size_t kMaxTensorName = 63;  // llama.cpp's limit (GGML_MAX_NAME - 1)
  using Producer = std::function<void(TensorSink&)>;

  // alignment: a power of two; stored as general.alignment when not the default.
  explicit Writer(uint32_t alignment = kDefaultAlignment);

  void add_u8(std::string_view key, uint8_t v);
  void add_i8(std::string_view key, int8_t v);
  void add_u16(std::string_view key, uint16_t v);
  void add_i16(std::string_view key, int16_t v);
  void add_u32(std::string_view key, uint32_t v);
  void add_i32(std::string_view key, int32_t v);
  void add_u64(std::string_view key, uint64_t v);
  void add_i64(std::string_view key, int64_t v);
  void add_f32(std::string_view key, float v);
  void add_f64(std::string_view key, double v);
  void add_bool(std::string_view key, bool v);
  void add_string(std::string_view key, std::string_view v);
  void add_string_array(std::string_view key, std::span<const std::string> values);
  // Numeric arrays: elem_type is a scalar type (not string or array) and
  // data holds count elements of that type's size, little-endian.
  void add_numeric_array(std::string_view key, ValueType elem_type, const void* data, uint64_t count);
  template <typename T>
  void add_array(std::string_view key, std::span<const T> values);
  // Copies a value read by gguf::File (any type, nested arrays included).
  void add_value(std::string_view key, const Value& value);
  // Copies every metadata entry of src whose key starts with prefix (e.g.
  // "tokenizer."); returns how many were copied.
  size_t copy_metadata(const File& src, std::string_view prefix);

  // dims[0] is the row length (contiguous), 1 to 4 dimensions.
  void add_tensor(std::string_view name, GgmlType type, std::vector<uint64_t> dims,
                  std::span<const uint8_t> bytes);
  // The producer must write exactly the tensor's byte size to the sink.
  void add_tensor(std::string_view name, GgmlType type, std::vector<uint64_t> dims, Producer producer);

  void write(const std::string& path) const;

  size_t metadata_count() const { return metadata_.size(); }
  size_t tensor_count() const { return tensors_.size(); }

 private:
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> dims;
    uint64_t n_bytes;
    uint64_t offset;  // in the data section, aligned
    std::vector<uint8_t> bytes;  // owned data, or empty with a producer
    Producer producer;
  };

  std::vector<uint8_t>& begin_entry(std::string_view key, ValueType type);
  uint64_t checked_tensor_bytes(std::string_view name, GgmlType type,
                                const std::vector<uint64_t>& dims) const;
  PendingTensor& begin_tensor(std::string_view name, GgmlType type, std::vector<uint64_t> dims);
  std::vector<uint8_t> encode_header() const;

  uint32_t alignment_;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> metadata_;  // key, encoded type + value
  std::unordered_set<std::string> keys_;
  std::vector<PendingTensor> tensors_;
  std::unordered_set<std::string> tensor_names_;
  uint64_t data_size_ = 0;
};

namespace writer_detail {
template <typename T> constexpr ValueType value_type_of();
template <> constexpr ValueType value_type_of<uint8_t>() { return ValueType::U8; }
template <> constexpr ValueType value_type_of<int8_t>() { return ValueType::I8; }
template <> constexpr ValueType value_type_of<uint16_t>() { return ValueType::U16; }
template <> constexpr ValueType value_type_of<int16_t>() { return ValueType::I16; }
template <> constexpr ValueType value_type_of<uint32_t>() { return ValueType::U32; }
template <> constexpr ValueType value_type_of<int32_t>() { return ValueType::I32; }
template <> constexpr ValueType value_type_of<uint64_t>() { return ValueType::U64; }
template <> constexpr ValueType value_type_of<int64_t>() { return ValueType::I64; }
template <> constexpr ValueType value_type_of<float>() { return ValueType::F32; }
template <> constexpr ValueType value_type_of<double>() { return ValueType::F64; }
template <> constexpr ValueType value_type_of<bool>() { return ValueType::Bool; }
}  // namespace writer_detail

template <typename T>
void Writer::add_array(std::string_view key, std::span<const T> values) {
  add_numeric_array(key, writer_detail::value_type_of<T>(), values.data(), values.size());
}

}  // namespace halo::gguf
