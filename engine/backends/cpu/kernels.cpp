// The CPU backend's single type dispatch: which decoder reads a weight type.
#include "engine/backends/cpu/kernels.h"

#include <string>

#include "engine/error.h"
#include "engine/quant/dequant.h"

namespace halo::cpu {
namespace {

// Reference decoders for the types without a SIMD path, one per type so the
// type travels in the function pointer.
template <GgmlType T>
void decode_reference(const uint8_t* src, float* dst, int64_t n) {
  dequantize_row(T, src, dst, n);
}

DecodeFn reference_decoder(GgmlType type) {
  switch (type) {
    case GgmlType::Q4_1: return decode_reference<GgmlType::Q4_1>;
    case GgmlType::Q5_0: return decode_reference<GgmlType::Q5_0>;
    case GgmlType::Q5_1: return decode_reference<GgmlType::Q5_1>;
    case GgmlType::Q2_K: return decode_reference<GgmlType::Q2_K>;
    case GgmlType::Q3_K: return decode_reference<GgmlType::Q3_K>;
    case GgmlType::Q5_K: return decode_reference<GgmlType::Q5_K>;
    case GgmlType::IQ4_NL: return decode_reference<GgmlType::IQ4_NL>;
    case GgmlType::IQ4_XS: return decode_reference<GgmlType::IQ4_XS>;
    case GgmlType::MXFP4: return decode_reference<GgmlType::MXFP4>;
    default: return nullptr;
  }
}

}  // namespace

WeightKernels weight_kernels(GgmlType type) {
  const TypeInfo info = type_info(type);
  WeightKernels k{nullptr, nullptr, info.block_elems, info.block_bytes, true};
  switch (type) {
    case GgmlType::F32: k.decode = decode_f32; break;
    case GgmlType::F16: k.decode = decode_f16; break;
    case GgmlType::BF16: k.decode = decode_bf16; break;
    case GgmlType::Q4_0: k.decode = decode_q4_0; k.row_dot = row_dot_q4_0; break;
    case GgmlType::Q8_0: k.decode = decode_q8_0; k.row_dot = row_dot_q8_0; break;
    case GgmlType::Q4_K: k.decode = decode_q4_k; break;
    case GgmlType::Q6_K: k.decode = decode_q6_k; break;
    default:
      k.fast = false;
      k.decode = info.dequantizable ? reference_decoder(type) : nullptr;
  }
  if (!k.decode) {
    throw Error(ErrorKind::BadModel,
                "the CPU backend cannot read tensor type " + std::string(info.name));
  }
  return k;
}

}  // namespace halo::cpu
