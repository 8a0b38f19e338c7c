// GGUF layout (little-endian):
//   "GGUF" u32 version, u64 n_tensors, u64 n_kv,
//   n_kv × { string key, u32 type, value },
//   n_tensors × { string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset },
//   padding to general.alignment, then the data section (offsets relative to it).
// A string is u64 length + bytes; an array is u32 element type, u64 count, elements.
#include "engine/gguf/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "engine/error.h"
#include "engine/gguf/file_reader.h"

namespace halo::gguf {
namespace {

constexpr uint32_t kMaxDims = 4;
constexpr int kMaxArrayDepth = 4;
constexpr uint64_t kMaxKeyLength = 1 << 16;
// Nested-array items are decoded into Value objects (~10x their encoded
// size); no real model uses many, so a cap bounds what a crafted file costs.
constexpr uint64_t kMaxNestedItems = 1 << 16;

// Smallest encoded size of one element of a type, so counts can be checked
// against the bytes left before anything is allocated.
uint64_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::Bool: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    case ValueType::String: return 8;
    case ValueType::Array: return 12;
  }
  return 1;
}

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::F64); }

std::string hex_offset(uint64_t off) { return "offset " + std::to_string(off); }

// A float metadata value read as an integer: saturated, NaN as 0 (a plain
// cast of an out-of-range float is undefined behaviour).
int64_t saturate_to_int(double d) {
  constexpr double kTwo63 = 9223372036854775808.0;
  if (d != d) return 0;
  if (d >= kTwo63) return std::numeric_limits<int64_t>::max();
  if (d < -kTwo63) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(d);
}

// Host bytes of one entry of an unordered_map<string_view, size_t> index:
// the node (next pointer, key, value, cached hash) after malloc rounding,
// and its share of the bucket array.
constexpr uint64_t kIndexEntryBytes = 64;

// The scan's window over the file: the longest run of bytes it looks at at
// once is a metadata key or tensor name (kMaxKeyLength).
constexpr uint64_t kWindowBytes = uint64_t{1} << 20;
static_assert(kWindowBytes >= kMaxKeyLength + 16);

// The bytes the parser reads: the header buffer a File owns (parsing), or
// a window moved along the file (scanning, in constant memory).
class Source {
 public:
  Source(const uint8_t* data, uint64_t size, const std::string& name) : data_(data), size_(size), name_(name) {}
  explicit Source(const FileReader& reader) : reader_(&reader), name_(reader.name()), window_(kWindowBytes) {}

  bool stores() const { return reader_ == nullptr; }

  // n bytes at file offset pos, which the parser has checked lie inside the
  // file; valid until the next call (a window holds at most kWindowBytes).
  const uint8_t* at(uint64_t pos, uint64_t n) {
    if (!reader_) {
      if (pos > size_ || n > size_ - pos)  // the file changed between the scan and the read
        throw Error(ErrorKind::BadModel, name_ + ": the header changed while it was read, at offset " +
                                             std::to_string(pos));
      return data_ + pos;
    }
    if (pos < base_ || pos + n > base_ + filled_) {
      base_ = pos;
      filled_ = std::min<uint64_t>(kWindowBytes, reader_->size() - pos);
      reader_->read(pos, window_.data(), filled_, "the GGUF header");
    }
    return window_.data() + (pos - base_);
  }

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  const FileReader* reader_ = nullptr;
  const std::string& name_;
  std::vector<uint8_t> window_;
  uint64_t base_ = 0, filled_ = 0;
};

}  // namespace

std::string_view value_type_name(ValueType t) {
  static constexpr std::string_view names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                               "bool", "string", "array", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < std::size(names) ? names[i] : "unknown";
}

bool Value::is_integer() const {
  switch (type) {
    case ValueType::U8: case ValueType::I8: case ValueType::U16: case ValueType::I16:
    case ValueType::U32: case ValueType::I32: case ValueType::U64: case ValueType::I64:
    case ValueType::Bool:
      return true;
    default:
      return false;
  }
}

int64_t Value::int_at(uint64_t idx) const {
  const uint8_t* p = raw + idx * min_encoded_size(elem_type);
  auto load = [p]<typename T>(T) { T v; std::memcpy(&v, p, sizeof v); return v; };
  switch (elem_type) {
    case ValueType::U8: case ValueType::Bool: return load(uint8_t{});
    case ValueType::I8: return load(int8_t{});
    case ValueType::U16: return load(uint16_t{});
    case ValueType::I16: return load(int16_t{});
    case ValueType::U32: return load(uint32_t{});
    case ValueType::I32: return load(int32_t{});
    case ValueType::U64: return static_cast<int64_t>(load(uint64_t{}));
    case ValueType::I64: return load(int64_t{});
    case ValueType::F32: return saturate_to_int(load(float{}));
    case ValueType::F64: return saturate_to_int(load(double{}));
    default: return 0;
  }
}

double Value::float_at(uint64_t idx) const {
  const uint8_t* p = raw + idx * min_encoded_size(elem_type);
  if (elem_type == ValueType::F32) { float v; std::memcpy(&v, p, 4); return v; }
  if (elem_type == ValueType::F64) { double v; std::memcpy(&v, p, 8); return v; }
  return static_cast<double>(int_at(idx));
}

// Reads the header; every read is bounds-checked against the bytes that
// remain, and every error names the byte offset. Scanning (a window Source)
// checks the structure and the limits and counts what parsing will keep;
// parsing (the File's header buffer) keeps it.
class Parser {
 public:
  Parser(File& f, Source& src, uint64_t file_size) : f_(f), src_(src), size_(file_size), store_(src.stores()) {}

  HeaderSummary parse() {
    if (size_ < 4 || std::memcmp(src_.at(0, std::min<uint64_t>(size_, 4)), "GGUF", 4) != 0)
      fail("bad magic: not a GGUF file", 0);
    pos_ = 4;
    f_.version_ = read_u32("version");
    if (f_.version_ != 2 && f_.version_ != 3)
      fail("unsupported GGUF version " + std::to_string(f_.version_) + " (2 and 3 are supported)", 4);
    summary_.n_tensors = read_u64("tensor count");
    summary_.n_metadata = read_u64("metadata count");
    // A key is at least 8 (length) + 4 (type) + 1 byte; a tensor info at least 8+4+8+4+8.
    check_count(summary_.n_metadata, 13, "metadata count", 16);
    check_count(summary_.n_tensors, 32, "tensor count", 8);
    check_limit(summary_.n_metadata, kMaxMetadataKeys, "metadata count", 16);
    check_limit(summary_.n_tensors, kMaxTensors, "tensor count", 8);
    read_metadata(summary_.n_metadata);
    read_tensor_infos(summary_.n_tensors);
    place_data();
    return summary_;
  }

 private:
  [[noreturn]] void fail(const std::string& what, uint64_t at) const {
    throw Error(ErrorKind::BadModel, f_.name_ + ": " + what + " at " + hex_offset(at));
  }

  uint64_t remaining() const { return size_ - pos_; }

  void need(uint64_t n, const char* what) const {
    if (n > remaining())
      fail(std::string("file truncated while reading ") + what + " (needs " + std::to_string(n) +
               " bytes, " + std::to_string(remaining()) + " left)",
           pos_);
    if (pos_ + n > kMaxHeaderBytes)
      fail("the header is larger than the limit of " + std::to_string(kMaxHeaderBytes >> 20) + " MiB", pos_);
  }

  void check_count(uint64_t count, uint64_t min_each, const std::string& what, uint64_t at) const {
    if (count > remaining() / min_each)
      fail(what + " " + std::to_string(count) + " is impossible for a file of " +
               std::to_string(size_) + " bytes",
           at);
  }

  void check_limit(uint64_t count, uint64_t limit, const std::string& what, uint64_t at) const {
    if (count > limit) fail(what + " " + std::to_string(count) + " exceeds the limit of " + std::to_string(limit), at);
  }

  template <typename T>
  T read_raw(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, src_.at(pos_, sizeof v), sizeof v);
    pos_ += sizeof v;
    return v;
  }
  uint32_t read_u32(const char* what) { return read_raw<uint32_t>(what); }
  uint64_t read_u64(const char* what) { return read_raw<uint64_t>(what); }

  // A string; its text only when parsing or when keep (a metadata key,
  // at most max_len long), else skipped.
  std::string_view read_string(const char* what, bool keep = false, uint64_t max_len = UINT64_MAX) {
    uint64_t at = pos_;
    uint64_t len = read_u64(what);
    if (len > remaining())
      fail(std::string(what) + " length " + std::to_string(len) + " runs past the end of the file", at);
    need(len, what);
    if (len > max_len) fail(std::string(what) + " of invalid length", at);
    std::string_view s;
    if (store_ || keep) s = std::string_view(reinterpret_cast<const char*>(src_.at(pos_, len)), len);
    pos_ += len;
    return s;
  }

  void read_scalar(Value& v, ValueType t) {
    auto widen_signed = [&v](int64_t x) { v.i = x; v.u = static_cast<uint64_t>(x); v.f = double(x); };
    auto widen_unsigned = [&v](uint64_t x) { v.u = x; v.i = static_cast<int64_t>(x); v.f = double(x); };
    switch (t) {
      case ValueType::U8: widen_unsigned(read_raw<uint8_t>("u8")); break;
      case ValueType::I8: widen_signed(read_raw<int8_t>("i8")); break;
      case ValueType::U16: widen_unsigned(read_raw<uint16_t>("u16")); break;
      case ValueType::I16: widen_signed(read_raw<int16_t>("i16")); break;
      case ValueType::U32: widen_unsigned(read_raw<uint32_t>("u32")); break;
      case ValueType::I32: widen_signed(read_raw<int32_t>("i32")); break;
      case ValueType::U64: widen_unsigned(read_raw<uint64_t>("u64")); break;
      case ValueType::I64: widen_signed(read_raw<int64_t>("i64")); break;
      case ValueType::F32: v.f = read_raw<float>("f32"); break;
      case ValueType::F64: v.f = read_raw<double>("f64"); break;
      case ValueType::Bool: {
        uint64_t at = pos_;
        uint8_t b = read_raw<uint8_t>("bool");
        if (b > 1) fail("bool value " + std::to_string(b) + " is neither 0 nor 1", at);
        widen_unsigned(b);
        break;
      }
      case ValueType::String: v.str = read_string("string value"); break;
      case ValueType::Array: break;
    }
  }

  void read_array(Value& v, int depth) {
    uint64_t at = pos_;
    uint32_t et = read_u32("array element type");
    if (!valid_value_type(et)) fail("unknown array element type " + std::to_string(et), at);
    v.elem_type = static_cast<ValueType>(et);
    v.count = read_u64("array length");
    check_count(v.count, min_encoded_size(v.elem_type), "array length", at + 4);
    array_elements_ += v.count;
    if (array_elements_ > kMaxArrayElements)
      fail("array length " + std::to_string(v.count) + " brings the file's array elements past the limit of " +
               std::to_string(kMaxArrayElements),
           at + 4);
    if (v.elem_type == ValueType::String) {
      if (store_) v.strings.reserve(v.count);
      for (uint64_t k = 0; k < v.count; ++k) {
        const uint64_t start = pos_;
        std::string_view s = read_string("array string");
        if (store_) v.strings.push_back(s);
        summary_.array_string_bytes += pos_ - start - 8;
      }
      summary_.array_strings += v.count;
    } else if (v.elem_type == ValueType::Array) {
      if (depth >= kMaxArrayDepth) fail("arrays nested too deeply", at);
      nested_items_ += v.count;
      if (nested_items_ > kMaxNestedItems) fail("too many nested array items", at);
      if (store_) {
        v.items.resize(v.count);
        for (auto& item : v.items) read_value(item, ValueType::Array, depth + 1);
      } else {
        for (uint64_t k = 0; k < v.count; ++k) {
          Value item;  // counted, not kept
          read_value(item, ValueType::Array, depth + 1);
        }
      }
    } else {
      uint64_t bytes = v.count * min_encoded_size(v.elem_type);  // checked above
      need(bytes, "array data");
      if (store_) v.raw = src_.at(pos_, bytes);
      pos_ += bytes;
    }
  }

  void read_value(Value& v, ValueType t, int depth) {
    v.type = t;
    if (t == ValueType::Array) read_array(v, depth);
    else read_scalar(v, t);
  }

  void read_metadata(uint64_t n_kv) {
    if (store_) f_.kv_.reserve(n_kv);
    for (uint64_t k = 0; k < n_kv; ++k) {
      uint64_t at = pos_;
      std::string_view key = read_string("metadata key", true, kMaxKeyLength);
      if (key.empty()) fail("metadata key of invalid length", at);
      const bool is_alignment = key == "general.alignment";
      uint64_t type_at = pos_;
      uint32_t t = read_u32("metadata value type");
      if (!valid_value_type(t))
        fail("metadata '" + std::string(key) + "' has unknown value type " + std::to_string(t), type_at);
      Value v;
      read_value(v, static_cast<ValueType>(t), 0);
      if (is_alignment) set_alignment(v);
      if (!store_) continue;
      if (!f_.kv_index_.emplace(key, f_.kv_.size()).second)
        fail("duplicate metadata key '" + std::string(key) + "'", at);
      f_.kv_.emplace_back(key, std::move(v));
    }
  }

  void set_alignment(const Value& a) {
    if (!a.is_integer() || a.u == 0 || a.u > (1u << 20) || (a.u & (a.u - 1)) != 0)
      fail("general.alignment must be a power of two up to 1 MiB", 16);
    f_.alignment_ = static_cast<uint32_t>(a.u);
  }

  void read_tensor_infos(uint64_t n_tensors) {
    if (store_) f_.tensors_.reserve(n_tensors);
    for (uint64_t k = 0; k < n_tensors; ++k) {
      uint64_t at = pos_;
      TensorInfo ti;
      ti.name = read_string("tensor name", true, kMaxKeyLength);
      if (ti.name.empty()) fail("tensor " + std::to_string(k) + " has an empty name", at);
      std::string label = "tensor '" + std::string(ti.name) + "'";
      uint64_t dims_at = pos_;
      ti.n_dims = read_u32("tensor dimension count");
      if (ti.n_dims == 0 || ti.n_dims > kMaxDims)
        fail(label + " has " + std::to_string(ti.n_dims) + " dimensions (1 to 4 allowed)", dims_at);
      ti.n_elements = 1;
      for (uint32_t d = 0; d < ti.n_dims; ++d) {
        uint64_t dim_at = pos_;
        ti.ne[d] = read_u64("tensor dimension");
        if (ti.ne[d] == 0 || ti.n_elements > std::numeric_limits<int64_t>::max() / ti.ne[d])
          fail(label + " has an invalid dimension " + std::to_string(ti.ne[d]), dim_at);
        ti.n_elements *= ti.ne[d];
      }
      uint64_t type_at = pos_;
      uint32_t raw_type = read_u32("tensor type");
      auto info = type_info(raw_type);
      if (!info) fail(label + " has unknown tensor type " + std::to_string(raw_type), type_at);
      ti.type = info->type;
      auto row = row_bytes(ti.type, ti.ne[0]);
      if (!row)
        fail(label + ": row length " + std::to_string(ti.ne[0]) + " is not a multiple of the " +
                 std::string(info->name) + " block size " + std::to_string(info->block_elems),
             dims_at);
      uint64_t rows = ti.n_elements / ti.ne[0];
      if (*row != 0 && rows > std::numeric_limits<uint64_t>::max() / *row)
        fail(label + " is too large", dims_at);
      ti.n_bytes = *row * rows;
      uint64_t off_at = pos_;
      ti.offset = read_u64("tensor offset");
      if (ti.offset % f_.alignment_ != 0)
        fail(label + " data offset " + std::to_string(ti.offset) + " is not a multiple of the alignment " +
                 std::to_string(f_.alignment_),
             off_at);
      summary_.tensor_bytes = ti.n_bytes > UINT64_MAX - summary_.tensor_bytes ? UINT64_MAX
                                                                               : summary_.tensor_bytes + ti.n_bytes;
      if (!store_) continue;
      if (!f_.tensor_index_.emplace(ti.name, f_.tensors_.size()).second)
        fail("duplicate " + label, at);
      f_.tensors_.push_back(ti);
    }
  }

  void place_data() {
    uint64_t align = f_.alignment_;
    uint64_t start = (pos_ + align - 1) / align * align;
    f_.data_offset_ = start;
    summary_.file_size = size_;
    summary_.header_bytes = start;
    summary_.host_bytes = std::min(start, size_) +
                          summary_.n_metadata * (sizeof(std::pair<std::string_view, Value>) + kIndexEntryBytes) +
                          summary_.array_strings * sizeof(std::string_view) + nested_items_ * sizeof(Value) +
                          summary_.n_tensors * (sizeof(TensorInfo) + kIndexEntryBytes);
    if (!store_) return;  // each tensor's place is checked when parsing
    for (auto& ti : f_.tensors_) {
      std::string label = "tensor '" + std::string(ti.name) + "'";
      if (start > size_ || ti.offset > size_ - start || ti.n_bytes > size_ - start - ti.offset)
        fail(label + " data (" + std::to_string(ti.n_bytes) + " bytes at data offset " +
                 std::to_string(ti.offset) + ") runs past the end of the file (" +
                 std::to_string(size_) + " bytes)",
             start + std::min<uint64_t>(ti.offset, size_));
      ti.file_offset = start + ti.offset;
    }
  }

  File& f_;
  Source& src_;
  uint64_t size_;
  bool store_;
  uint64_t pos_ = 0;
  uint64_t nested_items_ = 0;
  uint64_t array_elements_ = 0;
  HeaderSummary summary_;
};

HeaderSummary File::scan(const FileReader& reader) {
  File scratch;
  scratch.name_ = reader.name();
  Source window(reader);
  return Parser(scratch, window, reader.size()).parse();
}

HeaderSummary File::scan_fd(int fd, const std::string& display_name) { return scan(FileReader(fd, display_name)); }

std::unique_ptr<File> File::read(const FileReader& reader, Contents what) {
  const HeaderSummary summary = scan(reader);
  std::unique_ptr<File> f(new File());
  f->name_ = reader.name();
  f->file_size_ = reader.size();
  f->header_.resize(std::min(summary.header_bytes, reader.size()));
  reader.read(0, f->header_.data(), f->header_.size(), "the GGUF header");
  Source memory(f->header_.data(), f->header_.size(), f->name_);
  Parser(*f, memory, reader.size()).parse();
  f->host_bytes_ = summary.host_bytes;
  if (what == Contents::All && f->data_offset_ < f->file_size_) {
    f->data_.resize(f->file_size_ - f->data_offset_);
    reader.read(f->data_offset_, f->data_.data(), f->data_.size(), "tensor data");
    for (TensorInfo& t : f->tensors_) t.data = f->data_.data() + t.offset;
    f->host_bytes_ += f->data_.size();
  }
  return f;
}

std::unique_ptr<File> File::open(const std::string& path, Contents what) { return read(FileReader::open(path), what); }

std::unique_ptr<File> File::open_fd(int fd, const std::string& display_name, Contents what) {
  return read(FileReader(fd, display_name), what);
}

const Value* File::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

std::optional<std::string> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v || v->type != ValueType::String) return std::nullopt;
  return std::string(v->str);
}

std::optional<uint64_t> File::get_uint(std::string_view key) const {
  const Value* v = find(key);
  if (!v || !v->is_integer() || v->i < 0) return std::nullopt;
  return v->u;
}

std::optional<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v || !v->is_integer()) return std::nullopt;
  return v->i;
}

std::optional<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (!v || !(v->is_float() || v->is_integer())) return std::nullopt;
  return v->f;
}

std::optional<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v || v->type != ValueType::Bool) return std::nullopt;
  return v->u != 0;
}

const TensorInfo* File::tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

uint64_t File::tensor_bytes() const {
  uint64_t total = 0;
  for (const auto& t : tensors_) total += t.n_bytes;
  return total;
}

}  // namespace halo::gguf
