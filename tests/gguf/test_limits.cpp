// What a header may cost: the limits on counts, the constant-memory scan
// that says beforehand what parsing allocates, and float metadata read as
// integers without undefined behaviour.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/gguf/file_reader.h"
#include "engine/gguf/gguf.h"
#include "engine/gguf/writer.h"
#include "tests/fixtures.h"
#include "tests/gguf/gguf_test_util.h"

namespace halo::gguf {
namespace {

// Bytes malloc has handed out and not taken back.
uint64_t heap_in_use() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

std::string write_keys(const test::TempDir& dir, uint64_t n) {
  Writer w;
  for (uint64_t i = 0; i < n; ++i) w.add_u8("k" + std::to_string(i), 1);
  const std::string path = dir.file("keys.gguf");
  w.write(path);
  return path;
}

TEST(GgufLimits, MoreMetadataKeysThanTheLimitAreRefusedBeforeAllocating) {
  test::TempDir dir;
  const std::string path = write_keys(dir, kMaxMetadataKeys + 1);
  const uint64_t before = heap_in_use();
  try {
    File::open(path);
    FAIL() << "opened a header with more keys than the limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadModel);
    EXPECT_NE(std::string(e.what()).find("exceeds the limit of " + std::to_string(kMaxMetadataKeys)), std::string::npos)
        << e.what();
  }
  EXPECT_LT(heap_in_use(), before + (uint64_t{4} << 20));
}

TEST(GgufLimits, ScanningAHeaderTakesConstantMemoryAndBoundsWhatParsingAllocates) {
  test::TempDir dir;
  const std::string path = write_keys(dir, kMaxMetadataKeys);
  const uint64_t before_scan = heap_in_use();
  const HeaderSummary s = File::scan(FileReader::open(path));
  // Only the 1 MiB window was in use while scanning; nothing stays.
  EXPECT_LT(heap_in_use(), before_scan + (uint64_t{64} << 10));
  EXPECT_EQ(s.n_metadata, kMaxMetadataKeys);

  const uint64_t before = heap_in_use();
  const auto f = File::open(path);
  const uint64_t used = heap_in_use() - before;
  EXPECT_EQ(f->metadata().size(), kMaxMetadataKeys);
  EXPECT_GE(s.host_bytes, used);
  EXPECT_LT(s.host_bytes, 3 * used) << "the bound is far from what parsing takes";
  EXPECT_EQ(f->host_bytes(), s.host_bytes);
}

TEST(GgufLimits, TheSummaryBoundsAVocabularysHeader) {
  const std::string path = test::fixture("models/llama3-bpe-q4_k_m.gguf");
  const HeaderSummary s = File::scan(FileReader::open(path));
  const uint64_t before = heap_in_use();
  const auto f = File::open(path);
  const uint64_t used = heap_in_use() - before;
  EXPECT_GE(s.host_bytes, used);
  EXPECT_GT(s.array_strings, 128256u + 280000u) << "tokens and merges are counted";
  EXPECT_EQ(s.header_bytes, f->data_offset());
  EXPECT_EQ(s.tensor_bytes, f->tensor_bytes());
  EXPECT_EQ(s.n_tensors, f->tensors().size());
}

TEST(GgufLimits, ArraysBeyondTheElementLimitAreRefused) {
  test::TempDir dir;
  Writer w;
  const std::vector<uint8_t> half(kMaxArrayElements / 2 + 1, 7);
  w.add_array<uint8_t>("a", half);
  w.add_array<uint8_t>("b", half);
  w.write(dir.file("arrays.gguf"));
  try {
    File::open(dir.file("arrays.gguf"));
    FAIL() << "opened arrays past the element limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadModel);
    EXPECT_NE(std::string(e.what()).find("past the limit"), std::string::npos) << e.what();
  }
}

TEST(GgufLimits, FloatArrayElementsReadAsIntegersSaturate) {
  test::TempDir dir;
  Writer w;
  const float f32[] = {std::nanf(""), 1e30f, -1e30f, 42.9f, -7.5f};
  const double f64[] = {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(), 9.3e18};
  w.add_array<float>("f32", f32);
  w.add_array<double>("f64", f64);
  w.write(dir.file("floats.gguf"));
  const auto f = File::open(dir.file("floats.gguf"));
  const Value* a = f->find("f32");
  EXPECT_EQ(a->int_at(0), 0);
  EXPECT_EQ(a->int_at(1), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(a->int_at(2), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(a->int_at(3), 42);
  EXPECT_EQ(a->int_at(4), -7);
  const Value* b = f->find("f64");
  EXPECT_EQ(b->int_at(0), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(b->int_at(1), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(b->int_at(2), std::numeric_limits<int64_t>::max());
}

TEST(GgufLimits, TensorDataIsReadOnlyWhenAsked) {
  test::TempDir dir;
  Writer w;
  w.add_tensor("t", GgmlType::F32, {4}, std::vector<uint8_t>(16, 3));
  w.write(dir.file("t.gguf"));
  EXPECT_EQ(File::open(dir.file("t.gguf"))->tensor("t")->data, nullptr);
  const auto all = File::open(dir.file("t.gguf"), Contents::All);
  ASSERT_NE(all->tensor("t")->data, nullptr);
  EXPECT_EQ(all->tensor("t")->data[15], 3);
  EXPECT_EQ(all->tensor("t")->file_offset, all->data_offset());
}

}  // namespace
}  // namespace halo::gguf
