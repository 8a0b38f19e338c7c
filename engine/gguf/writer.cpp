// GGUF v3 layout written here (little-endian, as the reader expects):
//   "GGUF" u32 3, u64 n_tensors, u64 n_kv, n_kv × {string key, u32 type, value},
//   n_tensors × {string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset},
//   zero padding to the alignment, then each tensor's data at its offset
//   (a multiple of the alignment), zero-padded up to the next one.
#include "engine/gguf/writer.h"

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "engine/error.h"

namespace halo::gguf {
namespace {

static_assert(std::endian::native == std::endian::little, "GGUF is written little-endian");

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kVersion = 3;
constexpr uint32_t kMaxDims = 4;

[[noreturn]] void invalid(const std::string& what) { throw Error(ErrorKind::InvalidArgument, what); }

// resize + memcpy rather than vector::insert, which trips a false
// -Wstringop-overflow in GCC 12.
void append(std::vector<uint8_t>& out, const void* data, size_t size) {
  if (size == 0) return;
  const size_t at = out.size();
  out.resize(at + size);
  std::memcpy(out.data() + at, data, size);
}

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  append(out, &v, sizeof v);
}

void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  append(out, s.data(), s.size());
}

uint64_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::Bool: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    default: return 0;  // string, array: not fixed-size
  }
}

uint64_t align_up(uint64_t v, uint64_t alignment) { return (v + alignment - 1) / alignment * alignment; }

// Appends a reader Value's encoding (without its type tag).
void encode_value(std::vector<uint8_t>& out, const Value& v) {
  switch (v.type) {
    case ValueType::U8: case ValueType::I8: case ValueType::Bool: put<uint8_t>(out, uint8_t(v.u)); return;
    case ValueType::U16: case ValueType::I16: put<uint16_t>(out, uint16_t(v.u)); return;
    case ValueType::U32: case ValueType::I32: put<uint32_t>(out, uint32_t(v.u)); return;
    case ValueType::U64: case ValueType::I64: put<uint64_t>(out, v.u); return;
    case ValueType::F32: put<float>(out, static_cast<float>(v.f)); return;
    case ValueType::F64: put<double>(out, v.f); return;
    case ValueType::String: put_string(out, v.str); return;
    case ValueType::Array: break;
  }
  // The element count written is that of the elements actually held, so a
  // hand-built Value with a stale `count` can not produce a corrupt file.
  put<uint32_t>(out, static_cast<uint32_t>(v.elem_type));
  if (v.elem_type == ValueType::String) {
    put<uint64_t>(out, v.strings.size());
    for (std::string_view s : v.strings) put_string(out, s);
  } else if (v.elem_type == ValueType::Array) {
    put<uint64_t>(out, v.items.size());
    for (const Value& item : v.items) {
      if (item.type != ValueType::Array) invalid("nested array element is not an array");
      encode_value(out, item);
    }
  } else {
    const uint64_t size = scalar_size(v.elem_type);
    if (size == 0) invalid("array element type " + std::to_string(static_cast<uint32_t>(v.elem_type)) + " is unknown");
    if (v.count > 0 && !v.raw) invalid("numeric array of " + std::to_string(v.count) + " elements has no data");
    put<uint64_t>(out, v.count);
    append(out, v.raw, v.count * size);
  }
}

// Writes to "<path>.tmp"; commit() renames it over path. An abandoned file
// (exception before commit) is removed.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path) : path_(path), tmp_(path + ".tmp") {
    file_ = std::fopen(tmp_.c_str(), "wb");
    if (!file_) fail("cannot create");
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  }
  ~OutputFile() {
    if (file_) {
      std::fclose(file_);
      std::remove(tmp_.c_str());
    }
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(const void* data, size_t size) {
    if (size && std::fwrite(data, 1, size, file_) != size) fail("cannot write");
    written_ += size;
  }
  void pad_to(uint64_t position) {
    static constexpr uint8_t kZeros[64] = {};
    while (written_ < position) write(kZeros, std::min<uint64_t>(sizeof kZeros, position - written_));
  }
  uint64_t written() const { return written_; }

  void commit() {
    const int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) {
      std::remove(tmp_.c_str());
      fail("cannot write");
    }
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      std::remove(tmp_.c_str());
      fail("cannot rename into place");
    }
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw Error(ErrorKind::Io, std::string(what) + " " + path_ + ": " + std::strerror(errno));
  }
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  uint64_t written_ = 0;
};

// Counts what a producer writes and refuses more than the tensor's size.
class CountingSink final : public TensorSink {
 public:
  CountingSink(OutputFile& out, const std::string& name, uint64_t expected)
      : out_(out), name_(name), expected_(expected) {}
  void write(const void* data, size_t size) override {
    if (size > expected_ - written_)
      invalid("tensor '" + name_ + "': producer wrote more than its " + std::to_string(expected_) + " bytes");
    out_.write(data, size);
    written_ += size;
  }
  uint64_t written() const { return written_; }

 private:
  OutputFile& out_;
  const std::string& name_;
  uint64_t expected_;
  uint64_t written_ = 0;
};

}  // namespace

Writer::Writer(uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > (1u << 20))
    invalid("GGUF alignment " + std::to_string(alignment) + " is not a power of two up to 1 MiB");
  if (alignment != kDefaultAlignment) {
    auto& out = begin_entry("general.alignment", ValueType::U32);
    put<uint32_t>(out, alignment);
  }
}

std::vector<uint8_t>& Writer::begin_entry(std::string_view key, ValueType type) {
  if (key.empty()) invalid("metadata key is empty");
  if (!keys_.emplace(key).second) invalid("duplicate metadata key '" + std::string(key) + "'");
  metadata_.emplace_back(std::string(key), std::vector<uint8_t>{});
  auto& out = metadata_.back().second;
  put<uint32_t>(out, static_cast<uint32_t>(type));
  return out;
}

void Writer::add_u8(std::string_view key, uint8_t v) { put(begin_entry(key, ValueType::U8), v); }
void Writer::add_i8(std::string_view key, int8_t v) { put(begin_entry(key, ValueType::I8), v); }
void Writer::add_u16(std::string_view key, uint16_t v) { put(begin_entry(key, ValueType::U16), v); }
void Writer::add_i16(std::string_view key, int16_t v) { put(begin_entry(key, ValueType::I16), v); }
void Writer::add_u32(std::string_view key, uint32_t v) { put(begin_entry(key, ValueType::U32), v); }
void Writer::add_i32(std::string_view key, int32_t v) { put(begin_entry(key, ValueType::I32), v); }
void Writer::add_u64(std::string_view key, uint64_t v) { put(begin_entry(key, ValueType::U64), v); }
void Writer::add_i64(std::string_view key, int64_t v) { put(begin_entry(key, ValueType::I64), v); }
void Writer::add_f32(std::string_view key, float v) { put(begin_entry(key, ValueType::F32), v); }
void Writer::add_f64(std::string_view key, double v) { put(begin_entry(key, ValueType::F64), v); }
void Writer::add_bool(std::string_view key, bool v) {
  put<uint8_t>(begin_entry(key, ValueType::Bool), v ? 1 : 0);
}
void Writer::add_string(std::string_view key, std::string_view v) {
  put_string(begin_entry(key, ValueType::String), v);
}

void Writer::add_string_array(std::string_view key, std::span<const std::string> values) {
  auto& out = begin_entry(key, ValueType::Array);
  put<uint32_t>(out, static_cast<uint32_t>(ValueType::String));
  put<uint64_t>(out, values.size());
  for (const std::string& s : values) put_string(out, s);
}

void Writer::add_numeric_array(std::string_view key, ValueType elem_type, const void* data, uint64_t count) {
  const uint64_t size = scalar_size(elem_type);
  if (size == 0) invalid("metadata '" + std::string(key) + "': array element type must be numeric or bool");
  if (count > UINT64_MAX / size) invalid("metadata '" + std::string(key) + "': array too large");
  auto& out = begin_entry(key, ValueType::Array);
  put<uint32_t>(out, static_cast<uint32_t>(elem_type));
  put<uint64_t>(out, count);
  append(out, data, count * size);
}

void Writer::add_value(std::string_view key, const Value& value) {
  if (key == "general.alignment") invalid("general.alignment is set through the Writer constructor");
  if (static_cast<uint32_t>(value.type) > static_cast<uint32_t>(ValueType::F64))
    invalid("metadata '" + std::string(key) + "' has unknown value type");
  // Encoded aside first, so an invalid value leaves the writer unchanged.
  std::vector<uint8_t> encoded;
  encode_value(encoded, value);
  append(begin_entry(key, value.type), encoded.data(), encoded.size());
}

size_t Writer::copy_metadata(const File& src, std::string_view prefix) {
  size_t copied = 0;
  for (const auto& [key, value] : src.metadata()) {
    if (key.starts_with(prefix) && key != "general.alignment") {
      add_value(key, value);
      ++copied;
    }
  }
  return copied;
}

uint64_t Writer::checked_tensor_bytes(std::string_view name, GgmlType type,
                                     const std::vector<uint64_t>& dims) const {
  const std::string label = "tensor '" + std::string(name) + "'";
  if (name.empty()) invalid("tensor name is empty");
  if (name.size() > kMaxTensorName)
    invalid(label + ": name longer than " + std::to_string(kMaxTensorName) + " bytes");
  if (tensor_names_.contains(std::string(name))) invalid("duplicate " + label);
  if (dims.empty() || dims.size() > kMaxDims)
    invalid(label + " has " + std::to_string(dims.size()) + " dimensions (1 to 4 allowed)");
  const auto info = type_info(static_cast<uint32_t>(type));
  if (!info) invalid(label + " has unknown type id " + std::to_string(static_cast<uint32_t>(type)));
  const auto row = row_bytes(type, dims[0]);
  if (!row)
    invalid(label + ": row length " + std::to_string(dims[0]) + " is not a multiple of the " +
            std::string(info->name) + " block size " + std::to_string(info->block_elems));
  uint64_t n_bytes = *row;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 0) invalid(label + " has a zero dimension");
    if (d == 0) continue;
    if (n_bytes > UINT64_MAX / dims[d]) invalid(label + " is too large");
    n_bytes *= dims[d];
  }
  return n_bytes;
}

Writer::PendingTensor& Writer::begin_tensor(std::string_view name, GgmlType type, std::vector<uint64_t> dims) {
  const uint64_t n_bytes = checked_tensor_bytes(name, type, dims);
  const uint64_t offset = align_up(data_size_, alignment_);
  data_size_ = offset + n_bytes;
  tensor_names_.emplace(name);
  tensors_.push_back({std::string(name), type, std::move(dims), n_bytes, offset, {}, {}});
  return tensors_.back();
}

void Writer::add_tensor(std::string_view name, GgmlType type, std::vector<uint64_t> dims,
                        std::span<const uint8_t> bytes) {
  // Checked before registering, so a failed call leaves the writer unchanged.
  const uint64_t expected = checked_tensor_bytes(name, type, dims);
  if (expected != bytes.size())
    invalid("tensor '" + std::string(name) + "': " + std::to_string(bytes.size()) + " bytes given, " +
            std::to_string(expected) + " expected");
  begin_tensor(name, type, std::move(dims)).bytes.assign(bytes.begin(), bytes.end());
}

void Writer::add_tensor(std::string_view name, GgmlType type, std::vector<uint64_t> dims, Producer producer) {
  if (!producer) invalid("tensor '" + std::string(name) + "': no producer given");
  begin_tensor(name, type, std::move(dims)).producer = std::move(producer);
}

std::vector<uint8_t> Writer::encode_header() const {
  std::vector<uint8_t> out;
  put<uint32_t>(out, kMagic);
  put<uint32_t>(out, kVersion);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, metadata_.size());
  for (const auto& [key, encoded] : metadata_) {
    put_string(out, key);
    append(out, encoded.data(), encoded.size());
  }
  for (const PendingTensor& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) put<uint64_t>(out, d);
    put<uint32_t>(out, static_cast<uint32_t>(t.type));
    put<uint64_t>(out, t.offset);
  }
  return out;
}

void Writer::write(const std::string& path) const {
  OutputFile out(path);
  const std::vector<uint8_t> header = encode_header();
  out.write(header.data(), header.size());
  const uint64_t data_start = align_up(out.written(), alignment_);
  out.pad_to(data_start);
  for (const PendingTensor& t : tensors_) {
    out.pad_to(data_start + t.offset);
    if (!t.producer) {
      out.write(t.bytes.data(), t.bytes.size());
      continue;
    }
    CountingSink sink(out, t.name, t.n_bytes);
    t.producer(sink);
    if (sink.written() != t.n_bytes)
      invalid("tensor '" + t.name + "': producer wrote " + std::to_string(sink.written()) + " of " +
              std::to_string(t.n_bytes) + " bytes");
  }
  out.pad_to(align_up(out.written(), alignment_));
  out.commit();
}

}  // namespace halo::gguf
