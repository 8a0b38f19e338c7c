// gguf::Writer -> gguf::File round trips: every metadata type, arrays,
// alignment, tensor data from bytes and from streaming producers, copying a
// vocabulary, and the writer's own errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>
#include <filesystem>
#include <limits>
#include <numeric>

#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "engine/gguf/writer.h"
#include "tests/fixtures.h"
#include "tests/gguf/gguf_test_util.h"

namespace halo::gguf {
namespace {

using test::TempDir;

TEST(GgufWriter, RoundTripsEveryScalarType) {
  TempDir dir;
  Writer w;
  w.add_u8("t.u8", 255);
  w.add_i8("t.i8", -128);
  w.add_u16("t.u16", 65535);
  w.add_i16("t.i16", -32768);
  w.add_u32("t.u32", 4000000000u);
  w.add_i32("t.i32", std::numeric_limits<int32_t>::min());
  w.add_u64("t.u64", std::numeric_limits<uint64_t>::max());
  w.add_i64("t.i64", std::numeric_limits<int64_t>::min());
  w.add_f32("t.f32", 1.5e-7f);
  w.add_f64("t.f64", -2.25e300);
  w.add_bool("t.true", true);
  w.add_bool("t.false", false);
  w.add_string("t.str", "héllo wörld");
  w.add_string("t.empty", "");
  w.add_string("t.nul", std::string_view("a\0b", 3));
  w.write(dir.file("s.gguf"));

  const auto f = File::open(dir.file("s.gguf"));
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->metadata().size(), 15u);
  EXPECT_EQ(f->find("t.u8")->type, ValueType::U8);
  EXPECT_EQ(f->get_uint("t.u8"), 255u);
  EXPECT_EQ(f->get_int("t.i8"), -128);
  EXPECT_EQ(f->get_uint("t.u16"), 65535u);
  EXPECT_EQ(f->get_int("t.i16"), -32768);
  EXPECT_EQ(f->get_uint("t.u32"), 4000000000u);
  EXPECT_EQ(f->get_int("t.i32"), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(f->find("t.u64")->u, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(f->get_int("t.i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(f->find("t.f32")->type, ValueType::F32);
  EXPECT_EQ(static_cast<float>(*f->get_float("t.f32")), 1.5e-7f);
  EXPECT_EQ(f->get_float("t.f64"), -2.25e300);
  EXPECT_EQ(f->get_bool("t.true"), true);
  EXPECT_EQ(f->get_bool("t.false"), false);
  EXPECT_EQ(f->get_string("t.str"), "héllo wörld");
  EXPECT_EQ(f->get_string("t.empty"), "");
  EXPECT_EQ(f->get_string("t.nul"), std::string("a\0b", 3));
  EXPECT_TRUE(f->tensors().empty());
}

TEST(GgufWriter, RoundTripsArraysOfEveryKind) {
  TempDir dir;
  Writer w;
  const std::vector<std::string> words = {"", "one", "ünïcode", std::string(300, 'x')};
  const std::vector<int32_t> ints = {-1, 0, 7, std::numeric_limits<int32_t>::max()};
  const std::vector<float> floats = {0.5f, -0.0f, 3e38f};
  const std::vector<uint8_t> bytes = {0, 1, 255};
  const std::vector<double> doubles = {1e-300, -7.0};
  const bool flags[] = {true, false, true};
  w.add_string_array("a.strings", words);
  w.add_array<int32_t>("a.i32", ints);
  w.add_array<float>("a.f32", floats);
  w.add_array<uint8_t>("a.u8", bytes);
  w.add_array<double>("a.f64", doubles);
  w.add_array<bool>("a.bool", flags);
  w.add_array<int64_t>("a.empty", {});
  // A nested array (array of two u16 arrays), as the reader represents it.
  const uint16_t inner0[] = {1, 2}, inner1[] = {3};
  Value nested;
  nested.type = ValueType::Array;
  nested.elem_type = ValueType::Array;
  nested.count = 2;
  for (auto [data, n] : {std::pair{inner0, 2}, std::pair{inner1, 1}}) {
    Value item;
    item.type = ValueType::Array;
    item.elem_type = ValueType::U16;
    item.count = static_cast<uint64_t>(n);
    item.raw = reinterpret_cast<const uint8_t*>(data);
    nested.items.push_back(item);
  }
  w.add_value("a.nested", nested);
  w.write(dir.file("a.gguf"));

  const auto f = File::open(dir.file("a.gguf"));
  const Value* s = f->find("a.strings");
  ASSERT_TRUE(s && s->type == ValueType::Array && s->elem_type == ValueType::String);
  ASSERT_EQ(s->strings.size(), words.size());
  for (size_t i = 0; i < words.size(); ++i) EXPECT_EQ(s->strings[i], words[i]);
  const Value* i32 = f->find("a.i32");
  ASSERT_EQ(i32->count, ints.size());
  for (size_t i = 0; i < ints.size(); ++i) EXPECT_EQ(i32->int_at(i), ints[i]);
  const Value* f32 = f->find("a.f32");
  for (size_t i = 0; i < floats.size(); ++i) EXPECT_EQ(static_cast<float>(f32->float_at(i)), floats[i]);
  EXPECT_TRUE(std::signbit(f32->float_at(1)));
  for (size_t i = 0; i < bytes.size(); ++i) EXPECT_EQ(f->find("a.u8")->int_at(i), bytes[i]);
  for (size_t i = 0; i < doubles.size(); ++i) EXPECT_EQ(f->find("a.f64")->float_at(i), doubles[i]);
  EXPECT_EQ(f->find("a.bool")->elem_type, ValueType::Bool);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(f->find("a.bool")->int_at(i), flags[i] ? 1 : 0);
  EXPECT_EQ(f->find("a.empty")->count, 0u);
  EXPECT_EQ(f->find("a.empty")->elem_type, ValueType::I64);
  const Value* n = f->find("a.nested");
  ASSERT_EQ(n->items.size(), 2u);
  EXPECT_EQ(n->items[0].count, 2u);
  EXPECT_EQ(n->items[0].int_at(1), 2);
  EXPECT_EQ(n->items[1].int_at(0), 3);
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 31);
  return v;
}

TEST(GgufWriter, WritesTensorDataAlignedFromBytesAndProducers) {
  for (uint32_t alignment : {32u, 64u, 4096u}) {
    TempDir dir;
    Writer w(alignment);
    const auto a = pattern(4 * 3, 1);            // f32 [3]
    const auto b = pattern(18 * 2 * 5, 2);       // q4_0 [64, 5]
    const auto c = pattern(2 * 7 * 2 * 3 * 2, 3);  // f16 [7, 2, 3, 2]
    w.add_string("general.name", "t");
    w.add_tensor("a", GgmlType::F32, {3}, a);
    w.add_tensor("b.weight", GgmlType::Q4_0, {64, 5}, b);
    // Streamed in uneven pieces, as halo-mkmodel does with large tensors.
    w.add_tensor("c", GgmlType::F16, {7, 2, 3, 2}, [&c](TensorSink& sink) {
      for (size_t at = 0; at < c.size(); at += 13) sink.write(c.data() + at, std::min<size_t>(13, c.size() - at));
    });
    w.write(dir.file("t.gguf"));

    const auto f = File::open(dir.file("t.gguf"), Contents::All);
    EXPECT_EQ(f->alignment(), alignment);
    EXPECT_EQ(f->find("general.alignment") != nullptr, alignment != Writer::kDefaultAlignment);
    EXPECT_EQ(f->data_offset() % alignment, 0u);
    ASSERT_EQ(f->tensors().size(), 3u);
    using Expected = std::tuple<const char*, const std::vector<uint8_t>*, GgmlType>;
    const std::vector<Expected> expected = {
        {"a", &a, GgmlType::F32}, {"b.weight", &b, GgmlType::Q4_0}, {"c", &c, GgmlType::F16}};
    for (const auto& [name, bytes, type] : expected) {
      const TensorInfo* t = f->tensor(name);
      ASSERT_NE(t, nullptr) << name;
      EXPECT_EQ(t->type, type);
      EXPECT_EQ(t->offset % alignment, 0u) << name;
      ASSERT_EQ(t->n_bytes, bytes->size()) << name;
      EXPECT_EQ(std::memcmp(t->data, bytes->data(), bytes->size()), 0) << name;
    }
    const TensorInfo* c_info = f->tensor("c");
    EXPECT_EQ(c_info->n_dims, 4u);
    EXPECT_EQ(c_info->ne[0], 7u);
    EXPECT_EQ(c_info->ne[3], 2u);
    EXPECT_EQ(f->tensor("b.weight")->ne[1], 5u);
  }
}

TEST(GgufWriter, CopiesAVocabularyFromAnotherFile) {
  TempDir dir;
  const auto vocab = File::open(test::fixture("vocab/llama-spm.gguf"));
  Writer w;
  w.add_string("general.architecture", "llama");
  const size_t copied = w.copy_metadata(*vocab, "tokenizer.");
  ASSERT_GT(copied, 3u);
  w.write(dir.file("v.gguf"));

  const auto f = File::open(dir.file("v.gguf"));
  EXPECT_EQ(f->metadata().size(), copied + 1);
  for (const auto& [key, want] : vocab->metadata()) {
    if (!key.starts_with("tokenizer.")) continue;
    const Value* got = f->find(key);
    ASSERT_NE(got, nullptr) << key;
    EXPECT_EQ(got->type, want.type) << key;
    EXPECT_EQ(got->u, want.u) << key;
    EXPECT_EQ(got->str, want.str) << key;
    EXPECT_EQ(got->count, want.count) << key;
    EXPECT_EQ(got->strings, want.strings) << key;
    for (uint64_t i = 0; want.raw && i < want.count; ++i) ASSERT_EQ(got->float_at(i), want.float_at(i)) << key;
  }
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->strings.size(), 32000u);
}

void expect_invalid(const std::function<void()>& call, const std::string& needle) {
  try {
    call();
    ADD_FAILURE() << "expected InvalidArgument mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(GgufWriter, RejectsMisuseWithClearErrors) {
  Writer w;
  w.add_u32("k", 1);
  expect_invalid([&] { w.add_string("k", "again"); }, "duplicate metadata key 'k'");
  expect_invalid([&] { w.add_u32("", 1); }, "empty");
  expect_invalid([&] { w.add_numeric_array("arr", ValueType::String, nullptr, 0); }, "numeric");
  const auto four = pattern(4, 0);
  w.add_tensor("t", GgmlType::F32, {1}, four);
  expect_invalid([&] { w.add_tensor("t", GgmlType::F32, {1}, four); }, "duplicate tensor 't'");
  expect_invalid([&] { w.add_tensor("u", GgmlType::F32, {2}, four); }, "4 bytes given, 8 expected");
  expect_invalid([&] { w.add_tensor("u", GgmlType::Q4_0, {33}, four); }, "block size");
  expect_invalid([&] { w.add_tensor("u", GgmlType::F32, {1, 1, 1, 1, 1}, four); }, "dimensions");
  expect_invalid([&] { w.add_tensor("u", GgmlType::F32, {}, four); }, "dimensions");
  expect_invalid([&] { w.add_tensor("u", GgmlType::F32, {1, 0}, four); }, "zero dimension");
  expect_invalid([&] { w.add_tensor("u", static_cast<GgmlType>(4), {1}, four); }, "unknown type");
  expect_invalid([&] { w.add_tensor(std::string(64, 'n'), GgmlType::F32, {1}, four); }, "longer than 63");
  expect_invalid([&] { Writer bad(48); }, "power of two");
  Value no_data;
  no_data.type = ValueType::Array;
  no_data.elem_type = ValueType::F32;
  no_data.count = 3;
  expect_invalid([&] { w.add_value("v", no_data); }, "no data");
  Value not_nested = no_data;
  not_nested.elem_type = ValueType::Array;
  not_nested.items.resize(1);  // a U8 scalar where an array is required
  expect_invalid([&] { w.add_value("v", not_nested); }, "not an array");
  EXPECT_EQ(w.tensor_count(), 1u);  // failed calls left nothing behind
  EXPECT_EQ(w.metadata_count(), 1u);
}

TEST(GgufWriter, RejectsAProducerThatWritesTheWrongSizeAndLeavesNoFile) {
  TempDir dir;
  for (size_t produced : {size_t{7}, size_t{9}}) {
    Writer w;
    w.add_tensor("t", GgmlType::F16, {4}, [produced](TensorSink& sink) {
      const std::vector<uint8_t> bytes(produced, 1);
      sink.write(bytes.data(), bytes.size());
    });
    expect_invalid([&] { w.write(dir.file("p.gguf")); }, "producer wrote");
    EXPECT_FALSE(std::filesystem::exists(dir.file("p.gguf")));
    EXPECT_FALSE(std::filesystem::exists(dir.file("p.gguf.tmp")));
  }
}

TEST(GgufWriter, ReportsAnUnwritablePathAsIo) {
  Writer w;
  try {
    w.write("/nonexistent-dir/x.gguf");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.gguf"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace halo::gguf
