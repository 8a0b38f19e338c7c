// quantize_row() and the round-to-nearest encoders for the plain and 32-element
// block types. Q8_0 and Q4_0 follow the reference's simple algorithms (one
// scale from the block's extreme value), so re-quantizing a dequantized
// tensor gives back the same bytes.
#include "engine/quant/quantize.h"

#include <cmath>
#include <cstring>
#include <string>

#include "engine/error.h"
#include "engine/quant/dequant.h"
#include "engine/quant/quantize_blocks.h"

namespace halo {
namespace quant_detail {
namespace {
constexpr int kBlock = 32;

// roundf (half away from zero) without the library call, exact for |v| < 2^31:
// a - trunc(a) is computed without rounding error.
float round_half_away(float v) {
  const float a = std::fabs(v);
  const float t = static_cast<float>(static_cast<int32_t>(a));
  return std::copysign(a - t >= 0.5f ? t + 1.0f : t, v);
}

void store_fp16(uint8_t* p, float f) {
  const uint16_t h = fp32_to_fp16(f);
  std::memcpy(p, &h, sizeof h);
}
}  // namespace

// block_q8_0: d = max|x| / 127, q = round(x / d).
void quantize_q8_0(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kBlock, dst += 34) {
    float amax = 0.0f;
    for (int j = 0; j < kBlock; ++j) amax = std::fmax(amax, std::fabs(src[j]));
    const float d = amax / 127.0f;
    const float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
    store_fp16(dst, d);
    auto* qs = reinterpret_cast<int8_t*>(dst + 2);
    for (int j = 0; j < kBlock; ++j) qs[j] = static_cast<int8_t>(round_half_away(src[j] * inv_d));
  }
}

// block_q4_0: the element of largest magnitude maps to code 0 (value -8 * d),
// so d = extreme / -8 keeps its sign; the other codes are round(x / d) + 8,
// capped at 15.
void quantize_q4_0(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kBlock, dst += 18) {
    float amax = 0.0f, extreme = 0.0f;
    for (int j = 0; j < kBlock; ++j) {
      if (std::fabs(src[j]) > amax) {
        amax = std::fabs(src[j]);
        extreme = src[j];
      }
    }
    const float d = extreme / -8.0f;
    const float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
    store_fp16(dst, d);
    auto code = [inv_d](float x) {
      const int q = static_cast<int>(x * inv_d + 8.5f);  // truncation of a value >= 0.5
      return static_cast<uint8_t>(q > 15 ? 15 : q);
    };
    uint8_t* qs = dst + 2;
    for (int j = 0; j < kBlock / 2; ++j) {
      qs[j] = static_cast<uint8_t>(code(src[j]) | (code(src[j + kBlock / 2]) << 4));
    }
  }
}

}  // namespace quant_detail

namespace {

void require_finite(const float* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(src[i])) {
      throw Error(ErrorKind::InvalidArgument,
                  "cannot quantize a non-finite value (element " + std::to_string(i) + ")");
    }
  }
}

template <typename Convert>
void store_16bit(const float* src, uint8_t* dst, int64_t n, Convert convert) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = convert(src[i]);
    std::memcpy(dst + 2 * i, &h, sizeof h);
  }
}

using BlockEncoder = void (*)(const float*, uint8_t*, int64_t);

// The encoder of a block type (can_quantize and not a plain float type).
BlockEncoder block_encoder(GgmlType type) {
  using namespace quant_detail;
  switch (type) {
    case GgmlType::Q8_0: return quantize_q8_0;
    case GgmlType::Q4_0: return quantize_q4_0;
    case GgmlType::Q4_K: return quantize_q4_k;
    case GgmlType::Q5_K: return quantize_q5_k;
    case GgmlType::Q6_K: return quantize_q6_k;
    case GgmlType::IQ4_NL: return quantize_iq4_nl;
    case GgmlType::IQ4_XS: return quantize_iq4_xs;
    case GgmlType::MXFP4: return quantize_mxfp4;
    default: throw Error(ErrorKind::InvalidArgument, "no block encoder for " + std::string(type_info(type).name));
  }
}

}  // namespace

bool can_quantize(GgmlType type) {
  switch (type) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
    case GgmlType::Q8_0: case GgmlType::Q4_0: case GgmlType::Q4_K: case GgmlType::Q5_K:
    case GgmlType::Q6_K: case GgmlType::IQ4_NL: case GgmlType::IQ4_XS: case GgmlType::MXFP4:
      return true;
    default:
      return false;
  }
}

uint64_t quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
  const auto info = type_info(static_cast<uint32_t>(type));
  if (!info || !can_quantize(type)) {
    const std::string name = info ? std::string(info->name)
                                  : "id " + std::to_string(static_cast<uint32_t>(type));
    throw Error(ErrorKind::InvalidArgument, "cannot quantize to tensor type " + name);
  }
  const auto bytes = n < 0 ? std::nullopt : row_bytes(type, static_cast<uint64_t>(n));
  if (!bytes) {
    throw Error(ErrorKind::InvalidArgument,
                "quantize_row: " + std::to_string(n) + " elements is not a multiple of the " +
                    std::string(info->name) + " block size " + std::to_string(info->block_elems));
  }
  auto* out = static_cast<uint8_t*>(dst);
  const int64_t blocks = n / info->block_elems;
  switch (type) {
    case GgmlType::F32: std::memcpy(out, src, static_cast<size_t>(*bytes)); return *bytes;
    case GgmlType::F16: store_16bit(src, out, n, fp32_to_fp16); return *bytes;
    case GgmlType::BF16: store_16bit(src, out, n, fp32_to_bf16); return *bytes;
    default: break;
  }
  require_finite(src, n);
  block_encoder(type)(src, out, blocks);
  return *bytes;
}

}  // namespace halo
