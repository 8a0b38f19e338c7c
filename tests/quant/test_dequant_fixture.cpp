// Bit-exactness against the reference implementation: every tensor `T.q` of
// quant-fixture.gguf must dequantize to exactly the floats of `T.ref`.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/quant/dequant.h"
#include "tests/fixtures.h"

namespace halo {
namespace {

class DequantFixture : public ::testing::TestWithParam<GgmlType> {
 protected:
  static void SetUpTestSuite() {
    file_ = gguf::File::open(test::fixture("quant-fixture.gguf"), gguf::Contents::All).release();
  }
  static void TearDownTestSuite() {
    delete file_;
    file_ = nullptr;
  }
  static const gguf::File* file_;
};
const gguf::File* DequantFixture::file_ = nullptr;

TEST_P(DequantFixture, MatchesReferenceBitForBit) {
  const TypeInfo info = type_info(GetParam());
  ASSERT_TRUE(info.dequantizable);
  const std::string name(info.name);
  const gguf::TensorInfo* q = file_->tensor(name + ".q");
  const gguf::TensorInfo* ref = file_->tensor(name + ".ref");
  ASSERT_NE(q, nullptr) << name;
  ASSERT_NE(ref, nullptr) << name;
  ASSERT_EQ(q->type, GetParam());
  ASSERT_EQ(ref->type, GgmlType::F32);
  ASSERT_EQ(q->n_elements, ref->n_elements);

  // Row by row, as a backend would read it.
  const uint64_t row_len = q->ne[0];
  const uint64_t row_size = *row_bytes(q->type, row_len);
  std::vector<float> out(row_len);
  for (uint64_t r = 0; r < q->n_elements / row_len; ++r) {
    dequantize_row(q->type, q->data + r * row_size, out.data(), static_cast<int64_t>(row_len));
    const uint8_t* expected = ref->data + r * row_len * sizeof(float);
    for (uint64_t i = 0; i < row_len; ++i) {
      float want;
      std::memcpy(&want, expected + i * sizeof(float), sizeof want);
      ASSERT_EQ(std::memcmp(&out[i], &want, sizeof want), 0)
          << name << " row " << r << " element " << i << ": got " << out[i] << ", want " << want;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryFixtureType, DequantFixture,
    ::testing::Values(GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
                      GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K,
                      GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,
                      GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::MXFP4),
    [](const ::testing::TestParamInfo<GgmlType>& p) { return std::string(type_info(p.param).name); });

}  // namespace
}  // namespace halo
