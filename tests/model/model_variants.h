// Test helper: writes a copy of a fixture model with deliberate damage
// (another architecture name, tensors left out or rewritten with another
// type or shape, metadata keys left out) through the project's GGUF writer.
#pragma once
#include "tests/temp_dir.h"
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/gguf/writer.h"

namespace halo::test {

struct ModelEdit {
  std::string arch;                  // replaces general.architecture when not empty
  std::set<std::string> drop_keys;   // metadata left out
  std::set<std::string> drop_tensors;
  struct Retype {
    GgmlType type;
    std::vector<uint64_t> dims;
  };
  std::map<std::string, Retype> retype;  // tensors rewritten as zeros of this type and shape
  std::map<std::string, std::vector<float>> add_f32;  // extra 1-D F32 tensors
  std::map<std::string, uint32_t> set_u32;             // metadata replaced by a u32
};

inline void write_variant(const std::string& src_path, const std::string& out_path, const ModelEdit& edit) {
  auto src = gguf::File::open(src_path, gguf::Contents::All);
  gguf::Writer w;
  for (const auto& [key, value] : src->metadata()) {
    if (key == "general.alignment" || edit.drop_keys.count(std::string(key))) continue;
    if (key == "general.architecture" && !edit.arch.empty())
      w.add_string(key, edit.arch);
    else if (auto it = edit.set_u32.find(std::string(key)); it != edit.set_u32.end())
      w.add_u32(key, it->second);
    else
      w.add_value(key, value);
  }
  for (const gguf::TensorInfo& t : src->tensors()) {
    const std::string name(t.name);
    if (edit.drop_tensors.count(name)) continue;
    if (auto it = edit.retype.find(name); it != edit.retype.end()) {
      uint64_t bytes = *row_bytes(it->second.type, it->second.dims[0]);
      for (size_t i = 1; i < it->second.dims.size(); ++i) bytes *= it->second.dims[i];
      w.add_tensor(name, it->second.type, it->second.dims, std::vector<uint8_t>(bytes));
      continue;
    }
    std::vector<uint64_t> dims(t.ne, t.ne + t.n_dims);
    w.add_tensor(name, t.type, dims, std::span<const uint8_t>(t.data, t.n_bytes));
  }
  for (const auto& [name, values] : edit.add_f32) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(values.data());
    w.add_tensor(name, GgmlType::F32, {values.size()}, std::span<const uint8_t>(bytes, values.size() * sizeof(float)));
  }
  w.write(out_path);
}


}  // namespace halo::test
