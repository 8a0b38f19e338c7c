#include "tests/tools/gguf_layout.h"

#include <cstring>
#include <stdexcept>

namespace halo::test {
namespace {

class Cursor {
 public:
  explicit Cursor(const std::string& b) : b_(b) {}
  uint64_t pos() const { return pos_; }
  template <typename T>
  T read() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  void skip(uint64_t n) {
    need(n);
    pos_ += n;
  }
  void skip_string() { skip(read<uint64_t>()); }

 private:
  void need(uint64_t n) const {
    if (n > b_.size() || pos_ > b_.size() - n) throw std::runtime_error("walk_gguf: truncated fixture");
  }
  const std::string& b_;
  uint64_t pos_ = 0;
};

uint64_t scalar_size(uint32_t type) {
  switch (type) {
    case 0: case 1: case 7: return 1;   // u8 i8 bool
    case 2: case 3: return 2;           // u16 i16
    case 4: case 5: case 6: return 4;   // u32 i32 f32
    case 10: case 11: case 12: return 8;  // u64 i64 f64
  }
  throw std::runtime_error("walk_gguf: unexpected value type " + std::to_string(type));
}

void skip_value(Cursor& c, uint32_t type) {
  if (type == 8) {
    c.skip_string();
  } else if (type == 9) {
    uint32_t elem = c.read<uint32_t>();
    uint64_t count = c.read<uint64_t>();
    for (uint64_t i = 0; i < count; ++i) skip_value(c, elem);
  } else {
    c.skip(scalar_size(type));
  }
}

}  // namespace

GgufLayout walk_gguf(const std::string& bytes) {
  Cursor c(bytes);
  if (c.read<uint32_t>() != 0x46554747) throw std::runtime_error("walk_gguf: not GGUF");
  c.read<uint32_t>();  // version
  GgufLayout layout;
  uint64_t n_tensors = c.read<uint64_t>();
  uint64_t n_kv = c.read<uint64_t>();
  for (uint64_t i = 0; i < n_kv; ++i) {
    c.skip_string();
    skip_value(c, c.read<uint32_t>());
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorFieldOffsets t;
    uint64_t len = c.read<uint64_t>();
    t.name = bytes.substr(c.pos(), len);
    c.skip(len);
    c.skip(8 * uint64_t{c.read<uint32_t>()});  // dims
    t.type_at = c.pos();
    c.read<uint32_t>();
    t.offset_at = c.pos();
    c.read<uint64_t>();
    layout.tensors.push_back(t);
  }
  layout.tensor_infos_end = c.pos();
  return layout;
}

void put_u32(std::string& bytes, uint64_t at, uint32_t value) { std::memcpy(bytes.data() + at, &value, 4); }
void put_u64(std::string& bytes, uint64_t at, uint64_t value) { std::memcpy(bytes.data() + at, &value, 8); }

}  // namespace halo::test
