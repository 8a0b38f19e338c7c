// Helpers for the GGUF tests: a per-test temporary folder and raw byte access
// to written files, so tests can corrupt exactly one field.
#pragma once
#include "tests/temp_dir.h"
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace halo::test {


inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
void poke(std::vector<uint8_t>& bytes, size_t at, T value) {
  ASSERT_LE(at + sizeof value, bytes.size());
  std::memcpy(bytes.data() + at, &value, sizeof value);
}

template <typename T>
T peek(const std::vector<uint8_t>& bytes, size_t at) {
  T v{};
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}

// Offset just past a length-prefixed string equal to text (a key or tensor
// name), i.e. where its value or tensor info starts; 0 when absent.
inline size_t after_string(const std::vector<uint8_t>& bytes, std::string_view text) {
  const uint64_t len = text.size();
  std::string needle(reinterpret_cast<const char*>(&len), 8);
  needle.append(text);
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  return it == bytes.end() ? 0 : static_cast<size_t>(it - bytes.begin()) + needle.size();
}

}  // namespace halo::test
