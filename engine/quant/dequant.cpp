// dequantize_row(): the one place that maps a tensor type to its decoder.
#include "engine/quant/dequant.h"

#include <string>

#include "engine/error.h"
#include "engine/quant/dequant_blocks.h"

namespace halo {
namespace {

using BlockDecoder = void (*)(const uint8_t*, float*, int64_t);

BlockDecoder block_decoder(GgmlType type) {
  using namespace quant_detail;
  switch (type) {
    case GgmlType::Q4_0: return dequant_q4_0;
    case GgmlType::Q4_1: return dequant_q4_1;
    case GgmlType::Q5_0: return dequant_q5_0;
    case GgmlType::Q5_1: return dequant_q5_1;
    case GgmlType::Q8_0: return dequant_q8_0;
    case GgmlType::Q2_K: return dequant_q2_k;
    case GgmlType::Q3_K: return dequant_q3_k;
    case GgmlType::Q4_K: return dequant_q4_k;
    case GgmlType::Q5_K: return dequant_q5_k;
    case GgmlType::Q6_K: return dequant_q6_k;
    case GgmlType::IQ4_NL: return dequant_iq4_nl;
    case GgmlType::IQ4_XS: return dequant_iq4_xs;
    case GgmlType::MXFP4: return dequant_mxfp4;
    default: return nullptr;
  }
}

void convert_16bit(const uint8_t* src, float* dst, int64_t n, float (*to_fp32)(uint16_t)) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, sizeof h);
    dst[i] = to_fp32(h);
  }
}

}  // namespace

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  const auto info = type_info(static_cast<uint32_t>(type));
  if (!info || !info->dequantizable) {
    const std::string name = info ? std::string(info->name)
                                  : "id " + std::to_string(static_cast<uint32_t>(type));
    throw Error(ErrorKind::BadModel, "tensor type " + name + " is not supported");
  }
  if (n < 0 || n % info->block_elems != 0) {
    throw Error(ErrorKind::InvalidArgument,
                "dequantize_row: " + std::to_string(n) + " elements is not a multiple of the " +
                    std::string(info->name) + " block size " + std::to_string(info->block_elems));
  }
  const auto* bytes = static_cast<const uint8_t*>(src);
  switch (type) {
    case GgmlType::F32: std::memcpy(dst, bytes, static_cast<size_t>(n) * sizeof(float)); return;
    case GgmlType::F16: convert_16bit(bytes, dst, n, fp16_to_fp32); return;
    case GgmlType::BF16: convert_16bit(bytes, dst, n, bf16_to_fp32); return;
    default: break;
  }
  block_decoder(type)(bytes, dst, n / info->block_elems);
}

}  // namespace halo
