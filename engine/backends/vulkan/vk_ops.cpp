#include "engine/backends/vulkan/vk_ops.h"

#include <cctype>

#include "engine/error.h"

namespace halo::vk {
namespace {

constexpr uint64_t kMaxGroupsX = 65535;  // the smallest maxComputeWorkGroupCount Vulkan allows

std::string variant_suffix(GgmlType type) {
  std::string s(type_info(type).name);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

uint32_t ceil_div(uint64_t a, uint64_t b) { return static_cast<uint32_t>((a + b - 1) / b); }

}  // namespace

bool kernels_support(GgmlType type) { return Pipelines::has("matvec_" + variant_suffix(type)); }

void check_weight(const WeightView& w, const std::string& name) {
  if (!kernels_support(w.type))
    throw Error(ErrorKind::BadModel, "Vulkan backend: tensor " + name + " has type " +
                                         std::string(type_info(w.type).name) + ", which its kernels do not read");
  // Float types are read four elements at a time, quantized ones by block.
  if (w.ncols % 4 != 0)
    throw Error(ErrorKind::BadModel, "Vulkan backend: tensor " + name + " has rows of " +
                                         std::to_string(w.ncols) + " elements, not a multiple of 4");
}

template <typename Push>
void Ops::dispatch(VkCommandBuffer cmd, const std::string& variant, const Push& push, uint64_t groups_x,
                   uint32_t groups_y, const char* shape) {
  static_assert(sizeof(Push) <= 128, "push constants must fit the guaranteed 128 bytes");
  if (groups_x == 0 || groups_y == 0) return;
  vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipelines_.get(variant));
  vkCmdPushConstants(cmd, ctx_.pipeline_layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(Push), &push);
  if (groups_y == 1 && groups_x > kMaxGroupsX) {
    // Kernels that use linear_workgroup() accept the count split in two dimensions.
    vkCmdDispatch(cmd, static_cast<uint32_t>(kMaxGroupsX), ceil_div(groups_x, kMaxGroupsX), 1);
  } else {
    vkCmdDispatch(cmd, static_cast<uint32_t>(groups_x), groups_y, 1);
  }
  if (profiler_) profiler_->mark(cmd, shape ? variant + " " + shape : variant);
}

void Ops::matmul(VkCommandBuffer cmd, const WeightView& w, uint64_t x, uint64_t y, uint32_t ntok,
                 uint64_t bias, bool accumulate, const InputFusion& fuse) {
  MatmulPush p{};
  p.weight = w.address;
  p.x = x;
  p.y = y;
  p.bias = bias;
  p.ncols = w.ncols;
  p.nrows = w.nrows;
  p.row_bytes = w.row_bytes;
  p.flags = accumulate ? PUSH_FLAG_ACCUMULATE : 0u;
  p.x2 = fuse.swiglu_up;
  p.norm = fuse.norm;
  p.eps = fuse.eps;
  if ((p.x2 || p.norm) && ntok > kMatvecMaxTokens)
    throw Error(ErrorKind::InvalidArgument, "Vulkan: fused matmul inputs need at most 8 tokens");
  std::string suffix = variant_suffix(w.type);
  std::string shape = profiler_ ? std::to_string(w.nrows) + "x" + std::to_string(w.ncols) : "";
  p.ntok = ntok;
  if (ntok <= kMatvecMaxTokens) {
    // One token (decode) has its own build with one token's accumulators.
    const std::string kernel = (ntok == 1 ? "matvec1_" : "matvec_") + suffix;
    dispatch(cmd, kernel, p, ceil_div(w.nrows, kMatvecRowsPerGroup), 1, shape.c_str());
    return;
  }
  // Both GEMMs tile 64 rows x 64 tokens; cooperative matrices where the device has them.
  const std::string gemm = ctx_.features().coopmat_gemm ? "matmul_cm_" : "matmul_";
  dispatch(cmd, gemm + suffix, p, ceil_div(w.nrows, 64), ceil_div(ntok, 64), shape.c_str());
}

void Ops::get_rows(VkCommandBuffer cmd, const WeightView& w, uint64_t ids, uint64_t out, uint32_t ntok) {
  GetRowsPush p{};
  p.weight = w.address;
  p.ids = ids;
  p.dst = out;
  p.ncols = w.ncols;
  p.row_bytes = w.row_bytes;
  p.ntok = ntok;
  p.nrows = w.nrows;
  dispatch(cmd, "get_rows_" + variant_suffix(w.type), p, ceil_div(uint64_t{ntok} * (w.ncols / 4), 256));
}

void Ops::rms_norm(VkCommandBuffer cmd, uint64_t x, uint64_t y, uint64_t w, uint32_t ncols, uint32_t nrows,
                   float eps) {
  RmsNormPush p{};
  p.x = x;
  p.y = y;
  p.w = w;
  p.ncols = ncols;
  p.nrows = nrows;
  p.eps = eps;
  dispatch(cmd, "rms_norm", p, nrows);
}

void Ops::rope(VkCommandBuffer cmd, const RopePush& p) {
  dispatch(cmd, "rope", p, ceil_div(uint64_t{p.ntok} * p.nheads * (p.rope_dim / 2), 256));
}

void Ops::kv_store(VkCommandBuffer cmd, const KvStorePush& p) {
  dispatch(cmd, "kv_store", p, ceil_div(uint64_t{p.ntok} * (p.kv_dim / 2), 256));
}

void Ops::rope_kv(VkCommandBuffer cmd, const KvStorePush& p) {
  uint64_t q_pairs = uint64_t{p.ntok} * p.n_head * (p.head_dim / 2), kv_words = uint64_t{p.ntok} * (p.kv_dim / 2);
  dispatch(cmd, "rope_kv", p, ceil_div(q_pairs + 2 * kv_words, 256));
}

void Ops::attention(VkCommandBuffer cmd, const AttentionPush& p) {
  dispatch(cmd, "attention", p, uint64_t{p.ntok} * p.n_head);
}

void Ops::swiglu(VkCommandBuffer cmd, uint64_t gate, uint64_t up, uint64_t out, uint32_t n) {
  ElementwisePush p{gate, up, out, n};
  dispatch(cmd, "swiglu", p, ceil_div(n, 256));
}

void Ops::add(VkCommandBuffer cmd, uint64_t a, uint64_t b, uint64_t out, uint32_t n) {
  ElementwisePush p{a, b, out, n};
  dispatch(cmd, "add", p, ceil_div(n, 256));
}

void Ops::read_bandwidth(VkCommandBuffer cmd, uint64_t src, uint64_t out, uint32_t n_vec4, uint32_t groups) {
  ReadBandwidthPush p{src, out, n_vec4};
  dispatch(cmd, "read_bandwidth", p, groups);
}

}  // namespace halo::vk
