// The GGUF reader on arbitrary bytes: it either refuses them with
// halo::Error(BadModel) or parses them into views that all lie inside the
// file, whose every value can be read back.
#include <cstdint>
#include <string>

#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "fuzz/check.h"
#include "fuzz/mem_file.h"

namespace {

// Reads every byte a view claims, so ASan (or a fault past the mapping)
// catches a view that points outside the file.
uint64_t touch(std::string_view s) {
  uint64_t sum = 0;
  for (char c : s) sum += static_cast<unsigned char>(c);
  return sum;
}

uint64_t walk(const halo::gguf::Value& v, int depth) {
  using halo::gguf::ValueType;
  FUZZ_CHECK(depth < 16);
  uint64_t sum = touch(v.str);
  if (v.type != ValueType::Array) return sum;
  for (auto s : v.strings) sum += touch(s);
  for (auto& item : v.items) sum += walk(item, depth + 1);
  const bool numeric = v.elem_type != ValueType::String && v.elem_type != ValueType::Array;
  if (numeric) {
    FUZZ_CHECK(v.count == 0 || v.raw != nullptr);
    // The first and last elements bound the array; the middle adds nothing.
    for (uint64_t i : {uint64_t{0}, v.count / 2, v.count - 1})
      if (i < v.count) sum += static_cast<uint64_t>(v.int_at(i)) + static_cast<uint64_t>(v.float_at(i) != 0);
  } else if (v.elem_type == ValueType::String) {
    FUZZ_CHECK(v.strings.size() == v.count);
  }
  return sum;
}

void read_everything(const halo::gguf::File& f) {
  volatile uint64_t sink = 0;
  for (const auto& [key, value] : f.metadata()) {
    sink = sink + touch(key) + walk(value, 0);
    FUZZ_CHECK(f.find(key) != nullptr);
    (void)f.get_string(key);
    (void)f.get_uint(key);
    (void)f.get_int(key);
    (void)f.get_float(key);
    (void)f.get_bool(key);
  }
  // A file without tensor data may end before its data section's alignment.
  const uint64_t data_bytes = f.file_size() > f.data_offset() ? f.file_size() - f.data_offset() : 0;
  for (const auto& t : f.tensors()) {
    sink = sink + touch(t.name);
    FUZZ_CHECK(f.tensor(t.name) != nullptr);
    FUZZ_CHECK(t.n_dims <= 4);
    FUZZ_CHECK(t.offset <= data_bytes && t.n_bytes <= data_bytes - t.offset);
    if (t.n_bytes > 0 && t.data) sink = sink + t.data[0] + t.data[t.n_bytes - 1];
  }
  (void)f.tensor_bytes();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  halo::fuzz::MemFile input(data, size);
  std::unique_ptr<halo::gguf::File> file;
  try {
    file = halo::gguf::File::open_fd(input.fd(), "fuzz-input.gguf");
  } catch (const halo::Error& e) {
    FUZZ_CHECK(e.kind() == halo::ErrorKind::BadModel || e.kind() == halo::ErrorKind::Io);
    return 0;
  }
  read_everything(*file);
  return 0;
}
