// Where the fields of a GGUF file's header sit, found by walking it, so tests
// can corrupt exactly one field of a copy of a fixture.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace halo::test {

struct TensorFieldOffsets {
  std::string name;
  uint64_t type_at = 0;    // file offset of the u32 tensor type
  uint64_t offset_at = 0;  // file offset of the u64 data offset
};

struct GgufLayout {
  uint64_t n_tensors_at = 8;  // u64 tensor count follows magic and version
  uint64_t tensor_infos_end = 0;
  std::vector<TensorFieldOffsets> tensors;
};

// Walks a well-formed GGUF (v2/v3) held in bytes; throws std::runtime_error otherwise.
GgufLayout walk_gguf(const std::string& bytes);

void put_u32(std::string& bytes, uint64_t at, uint32_t value);
void put_u64(std::string& bytes, uint64_t at, uint64_t value);

}  // namespace halo::test
