// The reader on malformed files: each file is written by gguf::Writer, then
// one field is corrupted. Every case must end in halo::Error(BadModel) (Io for
// a missing file) whose message names the problem, never a crash.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "engine/gguf/writer.h"
#include "tests/gguf/gguf_test_util.h"

namespace halo::gguf {
namespace {

using test::after_string;
using test::peek;
using test::poke;

// A small valid file: a few metadata kinds and two tensors.
class MalformedGguf : public ::testing::Test {
 protected:
  void SetUp() override {
    Writer w;
    w.add_string("general.architecture", "llama");
    const std::vector<std::string> tokens = {"<s>", "</s>", "hello"};
    w.add_string_array("tokenizer.ggml.tokens", tokens);
    w.add_u32("llama.block_count", 1);
    w.add_bool("flag", true);
    w.add_tensor("first.weight", GgmlType::F32, {8, 2}, std::vector<uint8_t>(64, 1));
    w.add_tensor("other.weight", GgmlType::Q8_0, {32, 2}, std::vector<uint8_t>(68, 2));
    path_ = dir_.file("m.gguf");
    w.write(path_);
    bytes_ = test::read_bytes(path_);
    ASSERT_NO_THROW(File::open(path_));
  }

  // Tensor info of `name`: n_dims at +0, ne[] at +4, then type and offset.
  size_t info_of(const std::string& name) const {
    const size_t at = after_string(bytes_, name);
    EXPECT_NE(at, 0u) << name;
    return at;
  }
  size_t type_field(const std::string& name) const {
    const size_t info = info_of(name);
    return info + 4 + 8 * peek<uint32_t>(bytes_, info);
  }
  size_t offset_field(const std::string& name) const { return type_field(name) + 4; }

  // Writes the corrupted bytes and checks the error's kind and wording.
  void expect_bad_model(const std::vector<uint8_t>& bytes, const std::string& needle) {
    const std::string path = dir_.file("bad.gguf");
    test::write_bytes(path, bytes);
    try {
      File::open(path);
      ADD_FAILURE() << "opened a file that should be rejected (" << needle << ")";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::BadModel) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }

  test::TempDir dir_;
  std::string path_;
  std::vector<uint8_t> bytes_;
};

TEST_F(MalformedGguf, TruncationAtEveryPointIsRejectedWithAnOffset) {
  // Up to the end of the last tensor's data (the writer's trailing padding
  // may be cut without harm).
  const auto good = File::open(path_);
  const TensorInfo& last = good->tensors().back();
  const size_t end = good->data_offset() + last.offset + last.n_bytes;
  ASSERT_LE(end, bytes_.size());
  for (size_t cut = 1; cut < end; ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    std::vector<uint8_t> truncated(bytes_.begin(), bytes_.begin() + static_cast<long>(cut));
    // Cuts inside the header are truncations; cuts in the data section leave a
    // tensor running past the end. Either way the message gives an offset.
    expect_bad_model(truncated, "offset");
  }
}

TEST_F(MalformedGguf, EmptyFileIsRejected) { expect_bad_model({}, "empty"); }

TEST_F(MalformedGguf, BadMagicIsRejected) {
  bytes_[0] = 'X';
  expect_bad_model(bytes_, "magic");
}

TEST_F(MalformedGguf, UnsupportedVersionsAreRejected) {
  for (uint32_t version : {0u, 1u, 4u, 0xffffffffu}) {
    poke<uint32_t>(bytes_, 4, version);
    expect_bad_model(bytes_, "version " + std::to_string(version));
  }
}

TEST_F(MalformedGguf, AbsurdTensorCountIsRejectedWithoutAllocating) {
  poke<uint64_t>(bytes_, 8, uint64_t{1} << 60);
  expect_bad_model(bytes_, "tensor count");
}

TEST_F(MalformedGguf, AbsurdMetadataCountIsRejected) {
  poke<uint64_t>(bytes_, 16, ~uint64_t{0});
  expect_bad_model(bytes_, "metadata count");
}

TEST_F(MalformedGguf, AbsurdStringLengthIsRejected) {
  // The first key's length field sits right after the 24-byte header.
  poke<uint64_t>(bytes_, 24, uint64_t{1} << 62);
  expect_bad_model(bytes_, "length");
  // A string value's length, just past its type tag.
  bytes_ = test::read_bytes(path_);
  const size_t value = after_string(bytes_, "general.architecture") + 4;
  poke<uint64_t>(bytes_, value, ~uint64_t{0} - 3);
  expect_bad_model(bytes_, "length");
}

TEST_F(MalformedGguf, AbsurdArrayCountIsRejected) {
  // After the key: u32 value type (array), u32 element type, u64 count.
  const size_t count = after_string(bytes_, "tokenizer.ggml.tokens") + 8;
  ASSERT_EQ(peek<uint64_t>(bytes_, count), 3u);
  poke<uint64_t>(bytes_, count, uint64_t{1} << 61);
  expect_bad_model(bytes_, "array length");
}

TEST_F(MalformedGguf, UnknownValueTypesAreRejected) {
  const size_t type = after_string(bytes_, "llama.block_count");
  poke<uint32_t>(bytes_, type, 13);
  expect_bad_model(bytes_, "unknown value type 13");
  bytes_ = test::read_bytes(path_);
  const size_t elem = after_string(bytes_, "tokenizer.ggml.tokens") + 4;
  poke<uint32_t>(bytes_, elem, 99);
  expect_bad_model(bytes_, "unknown array element type 99");
}

TEST_F(MalformedGguf, BoolOtherThanZeroOrOneIsRejected) {
  bytes_[after_string(bytes_, "flag") + 4] = 2;
  expect_bad_model(bytes_, "bool");
}

TEST_F(MalformedGguf, TensorOffsetPastTheEndIsRejected) {
  poke<uint64_t>(bytes_, offset_field("other.weight"), uint64_t{1} << 40);
  expect_bad_model(bytes_, "past the end");
  bytes_ = test::read_bytes(path_);
  poke<uint64_t>(bytes_, offset_field("other.weight"), ~uint64_t{0} - 31);  // aligned, near 2^64
  expect_bad_model(bytes_, "past the end");
}

TEST_F(MalformedGguf, MisalignedTensorOffsetIsRejected) {
  const size_t field = offset_field("other.weight");
  poke<uint64_t>(bytes_, field, peek<uint64_t>(bytes_, field) + 4);
  expect_bad_model(bytes_, "alignment");
}

TEST_F(MalformedGguf, UnknownTensorTypesAreRejected) {
  for (uint32_t type : {4u, 31u, 40u, 0x80000000u}) {
    poke<uint32_t>(bytes_, type_field("first.weight"), type);
    expect_bad_model(bytes_, "unknown tensor type " + std::to_string(type));
  }
}

TEST_F(MalformedGguf, DuplicateTensorNamesAreRejected) {
  // Rename "other.weight" to "first.weight"... both names have 12 bytes.
  const size_t name = info_of("other.weight") - 12;
  std::memcpy(bytes_.data() + name, "first.weight", 12);
  expect_bad_model(bytes_, "duplicate tensor 'first.weight'");
}

TEST_F(MalformedGguf, DuplicateMetadataKeysAreRejected) {
  // Two keys of equal length; the second is renamed to the first.
  Writer w;
  w.add_u8("aaaa", 1);
  w.add_u8("aaab", 2);
  w.write(dir_.file("dup.gguf"));
  auto dup = test::read_bytes(dir_.file("dup.gguf"));
  ASSERT_NO_THROW(File::open(dir_.file("dup.gguf")));
  dup[after_string(dup, "aaab") - 1] = 'a';
  expect_bad_model(dup, "duplicate metadata key 'aaaa'");
}

TEST_F(MalformedGguf, TooManyOrZeroDimensionsAreRejected) {
  for (uint32_t n_dims : {0u, 5u, 1000u}) {
    bytes_ = test::read_bytes(path_);
    poke<uint32_t>(bytes_, info_of("first.weight"), n_dims);
    expect_bad_model(bytes_, "dimensions");
  }
}

TEST_F(MalformedGguf, ZeroOrOverflowingDimensionsAreRejected) {
  const size_t ne = info_of("first.weight") + 4;
  poke<uint64_t>(bytes_, ne + 8, 0);
  expect_bad_model(bytes_, "invalid dimension");
  bytes_ = test::read_bytes(path_);
  poke<uint64_t>(bytes_, ne + 8, uint64_t{1} << 62);  // 8 * 2^62 elements overflows
  expect_bad_model(bytes_, "dimension");
}

TEST_F(MalformedGguf, RowNotAMultipleOfTheBlockSizeIsRejected) {
  poke<uint64_t>(bytes_, info_of("other.weight") + 4, 48);  // q8_0 blocks are 32
  expect_bad_model(bytes_, "block size");
}

TEST(GgufReader, MissingFileIsAnIoError) {
  try {
    File::open("/nonexistent/model.gguf");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos) << e.what();
  }
}

// Random single-byte and u64 corruptions of the header: each must either load
// or fail with halo::Error, never crash or throw anything else.
TEST_F(MalformedGguf, RandomHeaderCorruptionNeverCrashes) {
  const File& good = *File::open(path_);
  const size_t header = good.data_offset();
  std::mt19937 rng(7);
  int rejected = 0;
  for (int round = 0; round < 600; ++round) {
    std::vector<uint8_t> bytes = bytes_;
    const size_t at = rng() % header;
    if (round % 2 == 0) {
      bytes[at] = static_cast<uint8_t>(rng());
    } else if (at + 8 <= header) {
      const uint64_t v = (uint64_t{rng()} << 32) | rng();
      std::memcpy(bytes.data() + at, &v, 8);
    }
    test::write_bytes(dir_.file("fuzz.gguf"), bytes);
    try {
      File::open(dir_.file("fuzz.gguf"));
    } catch (const Error& e) {
      ASSERT_EQ(e.kind(), ErrorKind::BadModel) << e.what();
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 200);
}

}  // namespace
}  // namespace halo::gguf
