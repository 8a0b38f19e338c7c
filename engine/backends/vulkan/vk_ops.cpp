#include "engine/backends/vulkan/vk_ops.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "engine/backends/vulkan/vk_env.h"
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

// The one-token matvec build to use: "matvec1" + the letters of
// HALO_VULKAN_MATVEC (or, for the gate/up pair, HALO_VULKAN_MATVEC_DUAL) when
// that build exists for the type and reads the input it gets (a tuning aid:
// the builds are listed in meson.build; those with an x read 8-bit inputs);
// else the default build for the input: 8-bit ("x") or f32.
std::string decode_kernel(const std::string& pick, const std::string& base, const std::string& suffix,
                          bool quantized_input) {
  const bool pick_reads_8bit = pick.find('x') != std::string::npos;
  if (!pick.empty() && pick_reads_8bit == quantized_input && Pipelines::has("matvec1" + pick + "_" + suffix))
    return "matvec1" + pick + "_" + suffix;
  return "matvec1" + base + (quantized_input ? "x" : "") + "_" + suffix;
}


// attention.comp's two builds and their shared-memory budgets (push.h).
struct AttentionBuild {
  const char* variant;
  uint32_t max_rows, q_pairs, kv_words, s_floats, rows_per_thread;
};
constexpr AttentionBuild kAttentionPrompt{"attention", ATTN_PROMPT_MAX_ROWS, ATTN_PROMPT_Q_PAIRS,
                                          ATTN_PROMPT_KV_WORDS, ATTN_PROMPT_S_FLOATS,
                                          ATTN_PROMPT_ROWS_PER_THREAD};
constexpr AttentionBuild kAttentionDecode{"attention_decode", ATTN_DECODE_MAX_ROWS, ATTN_DECODE_Q_PAIRS,
                                          ATTN_DECODE_KV_WORDS, ATTN_DECODE_S_FLOATS,
                                          ATTN_DECODE_ROWS_PER_THREAD};
// Workgroups worth splitting keys for: about two per SM of an H100 (132 SMs).
constexpr uint32_t kAttentionTargetGroups = 264;
// Splits the runner's scratch holds for kMatvecMaxTokens tokens.
constexpr uint32_t kAttentionScratchSplits = 32;

// Fewest keys worth a split of their own: each split's workgroup costs its
// query load and a partial write, and splitting costs a combine dispatch and
// a barrier, so by default a split gets at least two key tiles.
// HALO_VULKAN_ATTN_SPLIT_KEYS overrides it (for tuning on a device).
uint32_t min_split_keys(uint32_t keys_per_tile) {
  static const long env = [] {
    const char* v = std::getenv("HALO_VULKAN_ATTN_SPLIT_KEYS");
    return v && *v ? std::atol(v) : 0L;
  }();
  return env > 0 ? static_cast<uint32_t>(env) : 2 * keys_per_tile;
}

// Keys up to which batches of 2 to kMatvecMaxTokens tokens use
// attention_head.comp rather than the blocked, split kernel.
constexpr uint32_t kHeadKernelMaxKeys = 256;

bool use_head_kernel(AttentionKernel k, const AttentionPush& p) {
  if (k != AttentionKernel::Auto) return k == AttentionKernel::PerHead;
  // Prompts that attention_prompt cannot take: the blocked kernel's
  // shared-memory tiles were 4x slower on an H100 at 512 tokens.
  if (p.ntok > Ops::kMatvecMaxTokens) return true;
  // One token: the split kernel at every length since its 1- and 2-row
  // builds (H100, tg t/s per-head vs split: 7b 311 vs 324 from empty,
  // 114 vs 237 at 1,024 keys).
  if (p.ntok == 1) return false;
  return p.pos0 + p.ntok <= kHeadKernelMaxKeys;
}

// attention_prompt.comp shares each K/V tile across a query block; its row
// reductions shuffle across 8 consecutive lanes, so subgroups need 8.
bool use_prompt_kernel(AttentionKernel k, const AttentionPush& p, uint32_t subgroup_size) {
  if (k != AttentionKernel::Auto) return k == AttentionKernel::Prompt;
  return p.ntok > Ops::kMatvecMaxTokens && subgroup_size >= 8;
}

AttentionKernel attention_kernel_from_env() {
  const std::string s = env_or_empty("HALO_VULKAN_ATTENTION");
  if (s == "head") return AttentionKernel::PerHead;
  if (s == "blocked") return AttentionKernel::Blocked;
  if (s == "prompt") return AttentionKernel::Prompt;
  return AttentionKernel::Auto;
}


// The cooperative-matrix GEMM builds (meson.build, coopmat_configs): tile
// rows x tokens per workgroup, lanes, warp tiles and how many of them one
// subgroup may own; f16: the "h" builds that read to_f16's rows. In the
// order the default picks from (cm_config): the first that fits.
struct CmConfig {
  const char* tag;
  uint32_t rows, tokens, lanes, warp_tiles, tiles_per_subgroup;
  bool f16;
};
constexpr CmConfig kCmConfigs[] = {
    // wave32, f16 rows: 4 subgroups of one 64x64 warp tile each, K slices of
    // 64 in one uvec4 buffer; the fastest on an H100 (pp512 7b-q4_0 9,806 t/s,
    // 8b-q8_0 8,282; 128x128t2h 7,404 and 6,246; BENCHMARKS.md).
    {"128x128s64k64h", 128, 128, 128, 4, 1, true},
    {"128x128t2h", 128, 128, 128, 8, 2, true},  // wave32: 4 subgroups of 2 warp tiles each
    {"128x128h", 128, 128, 256, 8, 1, true},
    {"128x128", 128, 128, 256, 8, 1, false},
    {"128x64", 128, 64, 128, 4, 1, false},
    {"128x128w64h", 128, 128, 256, 8, 2, true},
    {"128x128w64", 128, 128, 256, 8, 2, false},  // wave64 (RDNA): a subgroup owns 2 warp tiles
    {"64x64", 64, 64, 128, 4, 2, false},         // any subgroup size from 32 to 64
    {"128x64h", 128, 64, 128, 4, 1, true},       // not picked by default (tuning candidates)
    {"64x64h", 64, 64, 128, 4, 2, true},
    {"128x128t2", 128, 128, 128, 8, 2, false},
    // f16 only (meson.build's coopmat_f16_configs): K slices of 64 in one
    // uvec4 buffer (k64), 64x64 warp tiles (s64); tuning candidates.
    {"128x128k64h", 128, 128, 256, 8, 1, true},
    {"128x128t2k64h", 128, 128, 128, 8, 2, true},
    {"128x128s64h", 128, 128, 128, 4, 1, true},
};
// Tokens from which the default takes the f16 builds: their pre-pass writes
// and the GEMM reads 2 bytes per weight, which pays only where the product
// is compute-bound (about 230 tokens at 300 TFLOP/s and 3 TB/s).
constexpr uint32_t kF16MinTokens = 128;
// Rows of an f16 chunk are a multiple of every configuration's tile rows.
constexpr uint32_t kF16ChunkRows = 128;
// The f16 rows are padded to a multiple of every build's K slice (and of 8 halves).
constexpr uint32_t kF16RowAlign = 64;
constexpr uint64_t kF16WeightBudget = 128ull << 20;

uint32_t f16_ldk(uint32_t ncols) { return (ncols + kF16RowAlign - 1) / kF16RowAlign * kF16RowAlign; }
uint64_t align256(uint64_t v) { return (v + 255) / 256 * 256; }

// Whether the build's subgroups cover its warp tiles at this subgroup size.
bool cm_config_fits(const CmConfig& c, uint32_t subgroup_size) {
  if (subgroup_size == 0 || c.lanes % subgroup_size != 0) return false;
  return c.lanes / subgroup_size * c.tiles_per_subgroup >= c.warp_tiles;
}

const CmConfig* cm_config_named(const std::string& tag) {
  for (const CmConfig& c : kCmConfigs)
    if (tag == c.tag) return &c;
  return nullptr;
}

// The forced configuration where it fits the subgroup size; else, by
// default, prompts of more than kF16MinTokens take 128x128 tiles on f16
// rows when the Ops has scratch (128x128s64k64h on wave32), more than 64
// tokens 128x128 tiles (twice the products per staged value of 64x64),
// shorter ones 128x64; wave64 devices get 128x128w64(h) and 64x64.
const CmConfig& cm_config(const std::string& forced, uint32_t ntok, uint32_t subgroup_size, bool have_scratch) {
  const CmConfig* pick = cm_config_named(forced);
  if (pick && cm_config_fits(*pick, subgroup_size)) return *pick;
  for (const CmConfig& c : kCmConfigs)
    if (cm_config_fits(c, subgroup_size) && (c.tokens <= 64 || ntok > 64) &&
        (!c.f16 || (have_scratch && ntok > kF16MinTokens)))
      return c;
  return *cm_config_named("64x64");
}

// Workgroups below which a product leaves the GPU partly idle: an H100 has
// 132 SMs (the K/V projections of GQA models, 1024 rows x 512 tokens, are 32
// tiles of 128x128). Devices do not report their SM count portably.
constexpr uint64_t kFillGroups = 128;

uint64_t cm_groups(const CmConfig& c, uint32_t nrows, uint32_t ntok) {
  return uint64_t{ceil_div(nrows, c.rows)} * ceil_div(ntok, c.tokens);
}

// c, or its 64x64 sibling (same operands: f16 rows or in-loop) where c's
// tiles give fewer than kFillGroups workgroups and the small tiles give more.
const CmConfig& cm_fill(const CmConfig& c, uint32_t nrows, uint32_t ntok, uint32_t subgroup_size) {
  if (cm_groups(c, nrows, ntok) >= kFillGroups) return c;
  const CmConfig& small = *cm_config_named(c.f16 ? "64x64h" : "64x64");
  if (!cm_config_fits(small, subgroup_size) || cm_groups(small, nrows, ntok) <= cm_groups(c, nrows, ntok)) return c;
  return small;
}

// The in-loop twin of an f16 configuration ("128x128h" -> "128x128"); 64x64
// (any subgroup size) for the f16-only builds.
const CmConfig& cm_in_loop(const CmConfig& c) {
  if (!c.f16) return c;
  std::string tag = c.tag;
  const CmConfig* twin = cm_config_named(tag.substr(0, tag.size() - 1));
  return twin ? *twin : *cm_config_named("64x64");
}


}  // namespace

std::string Ops::coopmat_config_for(const std::string& forced, uint32_t nrows, uint32_t ntok,
                                    uint32_t subgroup_size, bool have_scratch, bool fill) {
  const CmConfig& c = cm_config(forced, ntok, subgroup_size, have_scratch);
  return fill ? cm_fill(c, nrows, ntok, subgroup_size).tag : c.tag;
}

Ops::Ops(Context& ctx, Pipelines& pipelines)
    : ctx_(ctx),
      pipelines_(pipelines),
      attention_kernel_(attention_kernel_from_env()),
      cm_forced_(env_or_empty("HALO_VULKAN_CM")),
      cm_fill_(!env_is_zero("HALO_VULKAN_CM_FILL")),
      share_x_(!env_is_zero("HALO_VULKAN_CM_SHARE_X")),
      stack_products_(!env_is_zero("HALO_VULKAN_CM_STACK")),
      matvec_pick_(env_or_empty("HALO_VULKAN_MATVEC")),
      matvec_dual_pick_(env_or_empty("HALO_VULKAN_MATVEC_DUAL")) {
  set_attention_prompt_config(env_or_empty("HALO_VULKAN_ATTN_PROMPT"));
}

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

namespace {
MatmulPush matmul_push(const WeightView& w, uint64_t x, uint64_t y, uint64_t bias, bool accumulate,
                       const InputFusion& fuse) {
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
  if (fuse.quantized) {  // the norm's weights are in the input; only its row scale is left
    p.norm = 0;
    if (fuse.norm) p.flags |= PUSH_FLAG_RMS_SCALE;
  }
  return p;
}

// The push fields of a quantized output; rows must fill whole blocks.
void set_quantized_output(MatmulPush& p, const QuantizedOutput& out) {
  if (out.dst == 0) return;
  if (p.nrows % 32 != 0 || p.ntok != 1)
    throw Error(ErrorKind::InvalidArgument, "Vulkan: a quantized output needs one token and rows in blocks of 32");
  p.xq_out = out.dst;
  p.xq_norm = out.norm;
}
}  // namespace

void Ops::matvec_rope(VkCommandBuffer cmd, const WeightView& w, uint64_t x, uint64_t y, uint64_t bias,
                      const InputFusion& fuse, const RopeStore& rs) {
  MatmulPush p = matmul_push(w, x, y, bias, false, fuse);
  p.ntok = 1;
  p.table = rs.table;
  p.cache = rs.cache;
  p.pos = rs.pos;
  p.head_dim = rs.head_dim;
  p.rope_dim = rs.rope_dim;
  const std::string kernel = decode_kernel(matvec_pick_, "", variant_suffix(w.type), fuse.quantized);
  const uint32_t rows = kMatvecRowsPerGroup;
  if (rows % 2 != 0 || w.nrows % 2 != 0 || rs.head_dim % 2 != 0 || rs.rope_dim > rs.head_dim)
    throw Error(ErrorKind::InvalidArgument, "Vulkan: the RoPE/cache epilogue needs even rows and head sizes");
  std::string shape = profiler_ ? std::to_string(w.nrows) + "x" + std::to_string(w.ncols) + " rope" : "";
  dispatch(cmd, kernel, p, ceil_div(w.nrows, rows), 1, shape.c_str());
}

void Ops::matmul(VkCommandBuffer cmd, const WeightView& w, uint64_t x, uint64_t y, uint32_t ntok,
                 uint64_t bias, bool accumulate, const InputFusion& fuse, const QuantizedOutput& out) {
  MatmulPush p = matmul_push(w, x, y, bias, accumulate, fuse);
  p.ntok = ntok;
  set_quantized_output(p, out);
  if ((p.x2 || p.norm) && ntok > kMatvecMaxTokens)
    throw Error(ErrorKind::InvalidArgument, "Vulkan: fused matmul inputs need at most 8 tokens");
  if (fuse.quantized && ntok != 1)
    throw Error(ErrorKind::InvalidArgument, "Vulkan: a quantized matmul input is one token");
  std::string suffix = variant_suffix(w.type);
  std::string shape = profiler_ ? std::to_string(w.nrows) + "x" + std::to_string(w.ncols) : "";
  if (ntok <= kMatvecMaxTokens) {
    // One token (decode) has its own build with one token's accumulators.
    const std::string kernel =
        ntok == 1 ? decode_kernel(matvec_pick_, "", suffix, fuse.quantized) : "matvec_" + suffix;
    dispatch(cmd, kernel, p, ceil_div(w.nrows, kMatvecRowsPerGroup), 1, shape.c_str());
    return;
  }
  if (ctx_.features().coopmat_gemm) {
    // Cooperative matrices where the device has them, in the tile shape of cm_config.
    const CmConfig& c = *cm_config_named(
        coopmat_config_for(cm_forced_, w.nrows, ntok, ctx_.features().subgroup_size, scratch_ != 0, cm_fill_));
    if (c.f16 && matmul_f16(cmd, c.tag, c.rows, c.tokens, w, p, shape)) return;
    const CmConfig& in_loop = cm_in_loop(c);
    dispatch(cmd, std::string("matmul_cm") + in_loop.tag + "_" + suffix, p, ceil_div(w.nrows, in_loop.rows),
             ceil_div(ntok, in_loop.tokens), shape.c_str());
    return;
  }
  // The SIMT GEMM tiles 64 rows x 64 tokens.
  dispatch(cmd, "matmul_" + suffix, p, ceil_div(w.nrows, 64), ceil_div(ntok, 64), shape.c_str());
}

bool Ops::matmul_f16(VkCommandBuffer cmd, const std::string& tag, uint32_t tile_rows, uint32_t tile_tokens,
                     const WeightView& w, const MatmulPush& p, const std::string& shape) {
  const uint32_t ldk = f16_ldk(w.ncols);
  const uint64_t x_bytes = align256(uint64_t{p.ntok} * ldk * 2), row_bytes16 = uint64_t{ldk} * 2;
  if (scratch_ == 0 || scratch_bytes_ < x_bytes + kF16ChunkRows * row_bytes16) return false;
  uint64_t chunk = (scratch_bytes_ - x_bytes) / row_bytes16;
  // One chunk where the whole matrix fits; else whole tiles of rows per chunk.
  chunk = chunk >= w.nrows ? w.nrows : chunk / kF16ChunkRows * kF16ChunkRows;
  const uint64_t x16 = scratch_, w16 = scratch_ + x_bytes;
  // An earlier product's GEMM may still read the scratch.
  record_compute_barrier(cmd);
  // Products that share their input (keep_gemm_input) convert it once.
  const bool reuse = keep_x_ && x16_of_ == p.x && x16_ntok_ == p.ntok && x16_ldk_ == ldk;
  if (!reuse) to_f16(cmd, WeightView{GgmlType::F32, p.x, w.ncols, p.ntok, w.ncols * 4}, 0, p.ntok, x16, ldk);
  x16_of_ = keep_x_ ? p.x : 0;
  x16_ntok_ = p.ntok;
  x16_ldk_ = ldk;
  for (uint32_t row0 = 0; row0 < w.nrows; row0 += static_cast<uint32_t>(chunk)) {
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(chunk, w.nrows - row0));
    if (row0 > 0) record_compute_barrier(cmd);  // the previous chunk's GEMM reads w16
    to_f16(cmd, w, row0, n, w16, ldk);
    record_compute_barrier(cmd);
    GemmF16Push g{};
    g.weight = w16;
    g.x = x16;
    g.y = p.y + uint64_t{row0} * 4;
    g.bias = p.bias ? p.bias + uint64_t{row0} * 4 : 0;
    g.ncols = ldk;
    g.nrows = n;
    g.ntok = p.ntok;
    g.ldy = w.nrows;
    g.flags = p.flags;
    dispatch(cmd, "matmul_cm" + tag, g, ceil_div(n, tile_rows), ceil_div(p.ntok, tile_tokens), shape.c_str());
  }
  return true;
}

void Ops::matmul_stacked(VkCommandBuffer cmd, std::span<const StackedProduct> parts, uint64_t x, uint32_t ntok) {
  if (gemm_stacked(cmd, parts, x, ntok)) return;
  keep_gemm_input(true);  // one f16 conversion of x for all of them
  for (const StackedProduct& part : parts) matmul(cmd, part.w, x, part.y, ntok, part.bias);
  keep_gemm_input(false);
}

bool Ops::gemm_stacked(VkCommandBuffer cmd, std::span<const StackedProduct> parts, uint64_t x, uint32_t ntok) {
  if (parts.size() < 2 || parts.size() > kMaxStacked || ntok <= kMatvecMaxTokens || !ctx_.features().coopmat_gemm ||
      !stack_products_)
    return false;
  const uint32_t ncols = parts[0].w.ncols, ldk = f16_ldk(ncols);
  uint64_t rows = 0;
  for (const StackedProduct& part : parts) {
    if (part.w.ncols != ncols) return false;
    rows += part.w.nrows;
  }
  const uint64_t x_bytes = align256(uint64_t{ntok} * ldk * 2);
  if (scratch_ == 0 || scratch_bytes_ < x_bytes + rows * ldk * 2) return false;  // no chunks here
  const CmConfig& c = *cm_config_named(coopmat_config_for(cm_forced_, static_cast<uint32_t>(rows), ntok,
                                                          ctx_.features().subgroup_size, true, cm_fill_));
  if (!c.f16) return false;
  const uint64_t x16 = scratch_, w16 = scratch_ + x_bytes;
  record_compute_barrier(cmd);  // an earlier GEMM may still read the scratch
  to_f16(cmd, WeightView{GgmlType::F32, x, ncols, ntok, ncols * 4}, 0, ntok, x16, ldk);
  x16_of_ = 0;
  GemmF16Push g{};
  uint32_t row = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const StackedProduct& part = parts[i];
    to_f16(cmd, part.w, 0, part.w.nrows, w16 + uint64_t{row} * ldk * 2, ldk);
    if (i == 0) g.y = part.y, g.bias = part.bias, g.ldy = part.w.nrows;
    if (i == 1) g.y2 = part.y, g.bias2 = part.bias, g.ldy2 = part.w.nrows, g.row2 = row;
    if (i == 2) g.y3 = part.y, g.bias3 = part.bias, g.ldy3 = part.w.nrows, g.row3 = row;
    row += part.w.nrows;
  }
  record_compute_barrier(cmd);
  g.weight = w16;
  g.x = x16;
  g.ncols = ldk;
  g.nrows = row;
  g.ntok = ntok;
  std::string shape = profiler_ ? std::to_string(row) + "x" + std::to_string(ncols) + " stacked" : "";
  dispatch(cmd, "matmul_cm" + std::string(c.tag), g, ceil_div(row, c.rows), ceil_div(ntok, c.tokens), shape.c_str());
  return true;
}

void Ops::to_f16(VkCommandBuffer cmd, const WeightView& w, uint32_t row0, uint32_t nrows, uint64_t dst,
                 uint32_t ldk) {
  if (ldk % 8 != 0 || ldk < w.ncols || row0 + nrows > w.nrows)
    throw Error(ErrorKind::InvalidArgument, "Vulkan to_f16: ldk must be a multiple of 8 and the rows in range");
  ToF16Push p{};
  p.src = w.address;
  p.row0 = row0;
  p.dst = dst;
  p.row_bytes = w.row_bytes;
  p.ncols = w.ncols;
  p.nrows = nrows;
  p.ldk = ldk;
  std::string shape = profiler_ ? std::to_string(nrows) + "x" + std::to_string(w.ncols) : "";
  dispatch(cmd, "to_f16_" + variant_suffix(w.type), p, ceil_div(uint64_t{nrows} * (ldk / 8), 256), 1,
           shape.c_str());
}

uint64_t Ops::gemm_scratch_bytes(uint32_t max_ncols, uint32_t max_tokens, uint64_t max_weight_elems) {
  const uint32_t ldk = f16_ldk(max_ncols);
  uint64_t budget = kF16WeightBudget;
  if (const char* v = std::getenv("HALO_VULKAN_CM_SCRATCH_MIB"); v && std::atol(v) > 0)
    budget = static_cast<uint64_t>(std::atol(v)) << 20;
  // At least one chunk of rows, so every product can run on f16 rows.
  const uint64_t weights = std::max<uint64_t>(std::min<uint64_t>(budget, max_weight_elems * 2 + uint64_t{ldk} * 2 * kF16ChunkRows),
                                              uint64_t{ldk} * 2 * kF16ChunkRows);
  return align256(uint64_t{max_tokens} * ldk * 2) + weights;
}

std::vector<std::string> Ops::coopmat_configs(uint32_t subgroup_size) {
  std::vector<std::string> tags;
  for (const CmConfig& c : kCmConfigs)
    if (cm_config_fits(c, subgroup_size)) tags.emplace_back(c.tag);
  return tags;
}

void Ops::matvec_swiglu(VkCommandBuffer cmd, const WeightView& gate, const WeightView& up, uint64_t x, uint64_t y,
                        const InputFusion& fuse, const QuantizedOutput& out) {
  if (gate.type != up.type || gate.ncols != up.ncols || gate.nrows != up.nrows || gate.row_bytes != up.row_bytes)
    throw Error(ErrorKind::InvalidArgument, "Vulkan: fused gate/up needs two matrices of one type and shape");
  MatmulPush p = matmul_push(gate, x, y, 0, false, fuse);
  p.weight2 = up.address;
  p.x2 = 0;
  p.ntok = 1;
  set_quantized_output(p, out);
  const std::string kernel =
      decode_kernel(matvec_dual_pick_, "d", variant_suffix(gate.type), fuse.quantized);
  std::string shape = profiler_ ? "2x" + std::to_string(gate.nrows) + "x" + std::to_string(gate.ncols) : "";
  dispatch(cmd, kernel, p, ceil_div(gate.nrows, kDualRowsPerGroup), 1, shape.c_str());
}

void Ops::quantize_input(VkCommandBuffer cmd, uint64_t x, uint64_t norm, float eps, uint32_t ncols, uint64_t dst) {
  if (ncols % 32 != 0) throw Error(ErrorKind::InvalidArgument, "Vulkan quantize_input: ncols must be a multiple of 32");
  QuantizePush p{x, norm, dst, ncols, eps};
  dispatch(cmd, "quantize_input", p, ceil_div(ncols / 32, 64));  // an invocation per block (WG_SIZE 64)
}

uint64_t Ops::quantized_input_bytes(uint32_t ncols) { return uint64_t{XQ_WORDS(ncols)} * 4; }

bool Ops::reads_quantized_input(GgmlType type) {
  const std::string s = variant_suffix(type);
  return Pipelines::has("matvec1x_" + s) && Pipelines::has("matvec1dx_" + s);
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

void Ops::attention(VkCommandBuffer cmd, AttentionPush p, uint64_t partials_bytes) {
  if (p.head_dim == 0 || p.head_dim % 2 != 0 || p.head_dim > 2 * ATTN_WG || p.n_head_kv == 0 ||
      p.n_head % p.n_head_kv != 0)
    throw Error(ErrorKind::InvalidArgument, "Vulkan attention: head_dim must be even and at most 256, and "
                                            "n_head a multiple of n_head_kv");
  if (use_prompt_kernel(attention_kernel_, p, ctx_.features().subgroup_size)) {
    attention_prompt(cmd, p);
    return;
  }
  if (use_head_kernel(attention_kernel_, p)) {
    std::string shape = profiler_ ? "tok=" + std::to_string(p.ntok) + " keys=" + std::to_string(p.pos0 + p.ntok) : "";
    dispatch(cmd, "attention_head", p, uint64_t{p.ntok} * p.n_head, 1, shape.c_str());
    return;
  }
  const uint32_t wg = ATTN_WG, pairs = p.head_dim / 2, kvh_rows = p.ntok * (p.n_head / p.n_head_kv);
  const bool decode = kvh_rows <= ATTN_DECODE_MAX_ROWS;
  AttentionBuild b = decode ? kAttentionDecode : kAttentionPrompt;
  std::string variant = b.variant;
  // Small groups (MHA, GQA up to 4 at head_dim 128) take a decode build with
  // fewer rows per invocation: its unrolled steps for rows that do not exist
  // cost as much as real ones (7b at 4,096 keys: 454 -> 147 us a layer, H100).
  for (uint32_t rpt : {1u, 2u}) {
    const std::string v = "attention_decode_r" + std::to_string(rpt) + "_hd" + std::to_string(p.head_dim);
    if (decode && kvh_rows <= rpt * (wg / pairs) && Pipelines::has(v)) {
      b.rows_per_thread = rpt;
      variant = v;
      break;
    }
  }
  // Rows per block: as many as the query tile and the output registers hold;
  // then the longest key tile the K/V and score tiles and the score registers allow.
  const uint32_t rows = std::min({b.max_rows, b.q_pairs / pairs, b.rows_per_thread * (wg / pairs), kvh_rows});
  const uint32_t kt = std::min({b.kv_words / (pairs + 1), b.s_floats / rows, wg / ceil_div(rows, b.rows_per_thread)});
  const uint32_t groups = p.n_head_kv * ceil_div(kvh_rows, rows), n_keys = p.pos0 + p.ntok;
  uint32_t n_split = 1;
  if (p.partials) {
    const uint64_t split_bytes = uint64_t{p.ntok} * p.n_head * (p.head_dim + 2) * sizeof(float);
    n_split = static_cast<uint32_t>(std::min<uint64_t>({ceil_div(kAttentionTargetGroups, groups),
                                                        ceil_div(n_keys, min_split_keys(kt)),
                                                        partials_bytes / split_bytes, ATTN_MAX_SPLITS}));
    n_split = std::max(n_split, 1u);
  }
  uint32_t chunk = n_keys;
  if (n_split > 1) {
    chunk = ceil_div(ceil_div(n_keys, n_split), kt) * kt;  // whole tiles per split
    n_split = ceil_div(n_keys, chunk);
  }
  p.rows_per_block = rows;
  p.keys_per_tile = kt;
  p.chunk = chunk;
  p.n_split = n_split;
  std::string shape;
  if (profiler_)
    shape = "tok=" + std::to_string(p.ntok) + " keys=" + std::to_string(n_keys) + " rows=" + std::to_string(rows) +
            " tile=" + std::to_string(kt) + " splits=" + std::to_string(n_split) + "x" + std::to_string(chunk);
  // Builds for common head sizes, where there is one, have their loops unrolled.
  const std::string sized = std::string(b.variant) + "_hd" + std::to_string(p.head_dim);
  if (variant == b.variant && Pipelines::has(sized)) variant = sized;
  dispatch(cmd, variant, p, uint64_t{groups} * n_split, 1, shape.c_str());
  if (n_split == 1) return;
  record_compute_barrier(cmd);
  dispatch(cmd, "attention_combine", p, uint64_t{p.ntok} * p.n_head, 1, shape.c_str());
}

void Ops::attention_prompt(VkCommandBuffer cmd, const AttentionPush& p) {
  const std::string& cfg = prompt_config_;
  // Head sizes with a build of their own read vec4s: Q, K and V need 16-byte alignment.
  const std::string sized = "attention_prompt_" + cfg + "_hd" + std::to_string(p.head_dim);
  const bool aligned = ((p.q | p.k_cache | p.v_cache | p.dst) & 15) == 0;
  const bool use_sized = aligned && Pipelines::has(sized);
  const uint32_t rows = use_sized && cfg == "q64" ? ATTNP_Q64_BQ : ATTNP_Q32_BQ;
  std::string shape;
  if (profiler_)
    shape = "tok=" + std::to_string(p.ntok) + " keys=" + std::to_string(p.pos0 + p.ntok) + " rows=" +
            std::to_string(rows);
  dispatch(cmd, use_sized ? sized : "attention_prompt", p, uint64_t{ceil_div(p.ntok, rows)} * p.n_head, 1,
           shape.c_str());
}

uint64_t Ops::attention_partials_bytes(uint32_t n_head, uint32_t head_dim) {
  return uint64_t{kAttentionScratchSplits} * kMatvecMaxTokens * n_head * (head_dim + 2) * sizeof(float);
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
