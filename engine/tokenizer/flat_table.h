// Open-addressing hash tables for the vocabulary lookups: built once at load
// (hundreds of thousands of entries), read on every merge step. Flat arrays
// with linear probing: no allocation per entry, one cache line per probe.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace halo::tok {

inline size_t table_capacity(size_t entries) {
  size_t cap = 16;
  while (cap < entries * 2) cap <<= 1;  // load factor at most 1/2
  return cap;
}

inline uint64_t mix64(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Text → index into a vector of strings that outlives the table.
class TextTable {
 public:
  explicit TextTable(const std::vector<std::string>& texts)
      : texts_(texts), slots_(table_capacity(texts.size())), mask_(slots_.size() - 1) {
    for (size_t i = 0; i < texts.size(); ++i) insert_or_assign(static_cast<int32_t>(i));
  }

  int32_t find(std::string_view text) const {
    const uint64_t h = hash(text);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == static_cast<uint32_t>(h >> 32) && texts_[s.id] == text) return s.id;
    }
  }

 private:
  struct Slot {
    uint32_t hash = 0;  // high bits of the hash, to skip most string compares
    int32_t id = -1;    // -1: empty
  };
  static uint64_t hash(std::string_view text) { return mix64(std::hash<std::string_view>{}(text)); }

  void insert_or_assign(int32_t id) {
    const uint64_t h = hash(texts_[id]);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id < 0 || (s.hash == static_cast<uint32_t>(h >> 32) && texts_[s.id] == texts_[id])) {
        s = {static_cast<uint32_t>(h >> 32), id};  // a repeated text maps to its last id
        return;
      }
    }
  }

  const std::vector<std::string>& texts_;
  std::vector<Slot> slots_;
  size_t mask_;
};

// (left id, right id) → BPE merge; the first insert of a pair wins.
class MergeTable {
 public:
  struct Merge {
    int32_t rank = -1;   // -1: empty slot
    int32_t result = -1; // id of the joined token, -1 if the vocabulary lacks it
  };

  explicit MergeTable(size_t expected) : slots_(table_capacity(expected)), mask_(slots_.size() - 1) {}

  void insert_first(int32_t left, int32_t right, Merge m) {
    const uint64_t k = key(left, right);
    for (size_t i = mix64(k) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.merge.rank < 0) {
        s = {k, m};
        return;
      }
      if (s.key == k) return;
    }
  }

  const Merge* find(int32_t left, int32_t right) const {
    const uint64_t k = key(left, right);
    for (size_t i = mix64(k) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.merge.rank < 0) return nullptr;
      if (s.key == k) return &s.merge;
    }
  }

 private:
  struct Slot {
    uint64_t key = 0;
    Merge merge;
  };
  static uint64_t key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }

  std::vector<Slot> slots_;
  size_t mask_;
};

}  // namespace halo::tok
