// Block layouts of every ggml tensor type, as GGUF numbers them. The byte
// counts follow the block structs of the GGUF reference implementation
// (QK_K = 256 elements per super-block for the K and IQ families).
#include "engine/quant/types.h"

#include <array>

#include "engine/error.h"

namespace halo {
namespace {

constexpr uint32_t kQK = 256;  // super-block size of K-quants and most IQ types

// Ids 4, 5 (removed Q4_2/Q4_3), 31-33 and 36-38 (removed repacked types) are
// deliberately absent: files using them are rejected as unknown.
constexpr std::array kTypes = {
    TypeInfo{GgmlType::F32, "f32", 1, 4, true},
    TypeInfo{GgmlType::F16, "f16", 1, 2, true},
    TypeInfo{GgmlType::Q4_0, "q4_0", 32, 2 + 16, true},
    TypeInfo{GgmlType::Q4_1, "q4_1", 32, 2 + 2 + 16, true},
    TypeInfo{GgmlType::Q5_0, "q5_0", 32, 2 + 4 + 16, true},
    TypeInfo{GgmlType::Q5_1, "q5_1", 32, 2 + 2 + 4 + 16, true},
    TypeInfo{GgmlType::Q8_0, "q8_0", 32, 2 + 32, true},
    TypeInfo{GgmlType::Q8_1, "q8_1", 32, 2 + 2 + 32, false},
    TypeInfo{GgmlType::Q2_K, "q2_K", kQK, kQK / 16 + kQK / 4 + 2 + 2, true},
    TypeInfo{GgmlType::Q3_K, "q3_K", kQK, kQK / 8 + kQK / 4 + 12 + 2, true},
    TypeInfo{GgmlType::Q4_K, "q4_K", kQK, 2 + 2 + 12 + kQK / 2, true},
    TypeInfo{GgmlType::Q5_K, "q5_K", kQK, 2 + 2 + 12 + kQK / 8 + kQK / 2, true},
    TypeInfo{GgmlType::Q6_K, "q6_K", kQK, kQK / 2 + kQK / 4 + kQK / 16 + 2, true},
    TypeInfo{GgmlType::Q8_K, "q8_K", kQK, 4 + kQK + kQK / 16 * 2, false},
    TypeInfo{GgmlType::IQ2_XXS, "iq2_xxs", kQK, 2 + kQK / 8 * 2, false},
    TypeInfo{GgmlType::IQ2_XS, "iq2_xs", kQK, 2 + kQK / 8 * 2 + kQK / 32, false},
    TypeInfo{GgmlType::IQ3_XXS, "iq3_xxs", kQK, 2 + 3 * kQK / 8, false},
    TypeInfo{GgmlType::IQ1_S, "iq1_s", kQK, 2 + kQK / 8 + kQK / 32 * 2, false},
    TypeInfo{GgmlType::IQ4_NL, "iq4_nl", 32, 2 + 16, true},
    TypeInfo{GgmlType::IQ3_S, "iq3_s", kQK, 2 + kQK / 4 + kQK / 32 + kQK / 8 + kQK / 64, false},
    TypeInfo{GgmlType::IQ2_S, "iq2_s", kQK, 2 + kQK / 4 + kQK / 32 + kQK / 32, false},
    TypeInfo{GgmlType::IQ4_XS, "iq4_xs", kQK, 2 + 2 + kQK / 64 + kQK / 2, true},
    TypeInfo{GgmlType::I8, "i8", 1, 1, false},
    TypeInfo{GgmlType::I16, "i16", 1, 2, false},
    TypeInfo{GgmlType::I32, "i32", 1, 4, false},
    TypeInfo{GgmlType::I64, "i64", 1, 8, false},
    TypeInfo{GgmlType::F64, "f64", 1, 8, false},
    TypeInfo{GgmlType::IQ1_M, "iq1_m", kQK, kQK / 8 + kQK / 16 + kQK / 32, false},
    TypeInfo{GgmlType::BF16, "bf16", 1, 2, true},
    TypeInfo{GgmlType::TQ1_0, "tq1_0", kQK, (kQK - 4 * kQK / 64) / 5 + kQK / 64 + 2, false},
    TypeInfo{GgmlType::TQ2_0, "tq2_0", kQK, kQK / 4 + 2, false},
    TypeInfo{GgmlType::MXFP4, "mxfp4", 32, 1 + 16, true},
};

}  // namespace

std::optional<TypeInfo> type_info(uint32_t raw_type) {
  for (const TypeInfo& info : kTypes) {
    if (static_cast<uint32_t>(info.type) == raw_type) return info;
  }
  return std::nullopt;
}

TypeInfo type_info(GgmlType type) {
  if (auto info = type_info(static_cast<uint32_t>(type))) return *info;
  throw Error(ErrorKind::BadModel,
              "unknown tensor type id " + std::to_string(static_cast<uint32_t>(type)));
}

std::optional<uint64_t> row_bytes(GgmlType type, uint64_t n) {
  auto info = type_info(static_cast<uint32_t>(type));
  if (!info || n % info->block_elems != 0) return std::nullopt;
  const uint64_t blocks = n / info->block_elems;
  if (blocks > UINT64_MAX / info->block_bytes) return std::nullopt;
  return blocks * info->block_bytes;
}

}  // namespace halo
