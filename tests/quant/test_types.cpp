// The type table: known ids, block layouts, row sizes and rejection of ids
// that are not ggml types.
#include <gtest/gtest.h>

#include <cstdint>

#include "engine/error.h"
#include "engine/quant/dequant.h"
#include "engine/quant/types.h"

namespace halo {
namespace {

TEST(TypeInfo, KnowsTheBlockLayoutOfCommonTypes) {
  EXPECT_EQ(type_info(GgmlType::F32).block_bytes, 4u);
  EXPECT_EQ(type_info(GgmlType::Q4_0).block_elems, 32u);
  EXPECT_EQ(type_info(GgmlType::Q4_0).block_bytes, 18u);
  EXPECT_EQ(type_info(GgmlType::Q8_0).block_bytes, 34u);
  EXPECT_EQ(type_info(GgmlType::Q2_K).block_bytes, 84u);
  EXPECT_EQ(type_info(GgmlType::Q3_K).block_bytes, 110u);
  EXPECT_EQ(type_info(GgmlType::Q4_K).block_bytes, 144u);
  EXPECT_EQ(type_info(GgmlType::Q5_K).block_bytes, 176u);
  EXPECT_EQ(type_info(GgmlType::Q6_K).block_bytes, 210u);
  EXPECT_EQ(type_info(GgmlType::IQ4_XS).block_bytes, 136u);
  EXPECT_EQ(type_info(GgmlType::MXFP4).block_bytes, 17u);
  EXPECT_EQ(type_info(GgmlType::Q6_K).name, "q6_K");
}

TEST(TypeInfo, MarksExactlyTheSupportedTypesDequantizable) {
  const GgmlType supported[] = {GgmlType::F32,  GgmlType::F16,    GgmlType::BF16,   GgmlType::Q4_0,
                                GgmlType::Q4_1, GgmlType::Q5_0,   GgmlType::Q5_1,   GgmlType::Q8_0,
                                GgmlType::Q2_K, GgmlType::Q3_K,   GgmlType::Q4_K,   GgmlType::Q5_K,
                                GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::MXFP4};
  int dequantizable = 0;
  for (uint32_t id = 0; id < 64; ++id) {
    if (auto info = type_info(id)) dequantizable += info->dequantizable ? 1 : 0;
  }
  EXPECT_EQ(dequantizable, static_cast<int>(std::size(supported)));
  for (GgmlType t : supported) EXPECT_TRUE(type_info(t).dequantizable) << type_info(t).name;
}

TEST(TypeInfo, RejectsIdsThatAreNotGgmlTypes) {
  for (uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 40u, 1000u, 0xffffffffu}) {
    EXPECT_FALSE(type_info(id).has_value()) << id;
  }
  EXPECT_THROW(type_info(static_cast<GgmlType>(4)), Error);
}

TEST(RowBytes, MultipliesBlocksByBlockSize) {
  EXPECT_EQ(row_bytes(GgmlType::Q4_0, 4096), 4096u / 32 * 18);
  EXPECT_EQ(row_bytes(GgmlType::F16, 7), 14u);
  EXPECT_EQ(row_bytes(GgmlType::Q4_K, 0), 0u);
}

TEST(RowBytes, RejectsPartialBlocksUnknownTypesAndOverflow) {
  EXPECT_FALSE(row_bytes(GgmlType::Q4_0, 33).has_value());
  EXPECT_FALSE(row_bytes(GgmlType::Q6_K, 128).has_value());
  EXPECT_FALSE(row_bytes(static_cast<GgmlType>(5), 32).has_value());
  EXPECT_FALSE(row_bytes(GgmlType::F32, UINT64_MAX / 2).has_value());
  EXPECT_FALSE(row_bytes(GgmlType::Q8_0, UINT64_MAX - 31).has_value());
}

TEST(Dequantize, RejectsTypesItCannotRead) {
  uint8_t src[512] = {};
  float dst[256];
  try {
    dequantize_row(GgmlType::IQ2_XXS, src, dst, 256);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadModel);
    EXPECT_NE(std::string(e.what()).find("iq2_xxs"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dequantize_row(static_cast<GgmlType>(77), src, dst, 32), Error);
}

TEST(Dequantize, RejectsPartialBlocks) {
  uint8_t src[64] = {};
  float dst[64];
  EXPECT_THROW(dequantize_row(GgmlType::Q8_0, src, dst, 31), Error);
  EXPECT_THROW(dequantize_row(GgmlType::Q8_0, src, dst, -32), Error);
}

}  // namespace
}  // namespace halo
