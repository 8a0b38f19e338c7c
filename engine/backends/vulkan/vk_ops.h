// Records the engine's kernels into a command stream. Every operand is a
// device address (see shaders/push.h for each kernel's contract); callers
// put compute_barrier() between dispatches where data flows.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/backends/vulkan/shaders/push.h"
#include "engine/backends/vulkan/vk_profile.h"
#include "engine/backends/vulkan/vk_context.h"
#include "engine/backends/vulkan/vk_shaders.h"
#include "engine/quant/types.h"

namespace halo::vk {

// A weight matrix in device memory: nrows rows of ncols elements.
struct WeightView {
  GgmlType type = GgmlType::F32;
  uint64_t address = 0;
  uint32_t ncols = 0;
  uint32_t nrows = 0;
  uint32_t row_bytes = 0;
};

// Whether the kernels read this type (and the row length fits them).
bool kernels_support(GgmlType type);
// Throws halo::Error(BadModel) naming the tensor when the kernels cannot use it.
void check_weight(const WeightView& w, const std::string& name);

// Transforms fused into a decode-path (matvec) product's input; see MatmulPush.
struct InputFusion {
  uint64_t swiglu_up = 0;  // x' = silu(x) * up
  uint64_t norm = 0;       // x' = x / rms(x) * norm (f32 weights of ncols)
  float eps = 0;
  // x is an 8-bit input (one token, Q4_0/Q8_0 weights) from quantize_input
  // or a QuantizedOutput: the MV_XQ builds read it. norm != 0 then says the
  // norm's weights are folded into it, and rows are scaled by 1 / rms(x).
  bool quantized = false;
};

// A one-token product's output also written as the next product's 8-bit
// input (see MatmulPush::xq_out): dst (quantized_input_bytes(nrows), zeroed
// once when allocated) gets y times norm (f32 weights) when norm != 0.
struct QuantizedOutput {
  uint64_t dst = 0;
  uint64_t norm = 0;
};

// The one-token Q/K/V epilogue (see MatmulPush in shaders/push.h): rotate
// pairs (2i, 2i+1) by RoPE at pos (table != 0: the runner's RoPE table) and
// store f16 pairs to a KV cache row (cache != 0) instead of f32 to y.
struct RopeStore {
  uint64_t table = 0;
  uint64_t cache = 0;
  uint32_t pos = 0, head_dim = 0, rope_dim = 0;
};

// One product of matmul_stacked: its weight, output and bias (0: none).
struct StackedProduct {
  WeightView w;
  uint64_t y = 0;
  uint64_t bias = 0;
};

// Which attention kernel runs: attention_head.comp (one workgroup per token
// and head), attention.comp (blocked, keys split across workgroups),
// attention_prompt.comp (query tiles, flash-attention style), or the choice
// by shape (Auto: prompts take attention_prompt). HALO_VULKAN_ATTENTION=
// head|blocked|prompt sets the default.
enum class AttentionKernel { Auto, PerHead, Blocked, Prompt };

class Ops {
 public:
  Ops(Context& ctx, Pipelines& pipelines);
  // Timestamps after every dispatch (see vk_profile.h); null turns them off.
  void set_profiler(Profiler* profiler) { profiler_ = profiler; }
  void set_attention_kernel(AttentionKernel k) { attention_kernel_ = k; }
  // The cooperative-matrix GEMM's tile configuration ("" picks by shape);
  // HALO_VULKAN_CM sets it at construction. A tag that does not fit the
  // device's subgroup size is ignored.
  void set_coopmat_config(const std::string& tag) { cm_forced_ = tag; }
  // Whether a product whose tiles give fewer workgroups than fill the GPU
  // (about one per SM) takes the 64x64 sibling of its configuration, forced
  // or not; HALO_VULKAN_CM_FILL=0 turns it off at construction.
  void set_coopmat_fill(bool on) { cm_fill_ = on; }
  // Whether matmul_stacked stacks its products into one GEMM where it can
  // (HALO_VULKAN_CM_STACK=0 turns it off at construction).
  void set_stack_products(bool on) { stack_products_ = on; }
  // The configuration tag matmul uses for nrows x ntok (forced: a tag or "").
  static std::string coopmat_config_for(const std::string& forced, uint32_t nrows, uint32_t ntok,
                                        uint32_t subgroup_size, bool have_scratch, bool fill);
  // Tags of the configurations that fit this subgroup size (meson.build builds them).
  static std::vector<std::string> coopmat_configs(uint32_t subgroup_size);
  // Scratch for the f16 GEMM configurations (tags ending in "h"): the
  // activations and a chunk of the weight's rows, converted to f16 by
  // to_f16 before the GEMM. Without it, or where a product's activations
  // do not fit it, those configurations run as their in-loop twins (the tag
  // without "h"). The caller keeps the memory alive.
  void set_gemm_scratch(uint64_t address, uint64_t bytes) { scratch_ = address, scratch_bytes_ = bytes, x16_of_ = 0; }
  // While on, f16 products whose activations (address, tokens, row length)
  // are those the previous f16 product converted skip their pre-pass: the
  // caller promises nothing writes them in between (Q/K/V of one layer,
  // gate/up). Turning it off forgets the converted input.
  // HALO_VULKAN_CM_SHARE_X=0 ignores it (every product converts its input).
  void keep_gemm_input(bool on) { keep_x_ = on && share_x_, x16_of_ = 0; }
  // Scratch for activations up to max_tokens x max_ncols plus one chunk of
  // up to max_weight_elems f16 weights (capped at 128 MiB, or
  // HALO_VULKAN_CM_SCRATCH_MIB; larger weights run in chunks of rows).
  static uint64_t gemm_scratch_bytes(uint32_t max_ncols, uint32_t max_tokens, uint64_t max_weight_elems);
  // dst (nrows x ldk f16) = rows [row0, row0 + nrows) of W, dequantized,
  // zero past ncols; ldk a multiple of 8 and >= ncols, dst 16-byte aligned.
  void to_f16(VkCommandBuffer cmd, const WeightView& w, uint32_t row0, uint32_t nrows, uint64_t dst, uint32_t ldk);

  // y (ntok x nrows) = x (ntok x ncols) W^T (+ bias) (+ y when accumulate).
  // Input fusions need ntok <= kMatvecMaxTokens.
  void matmul(VkCommandBuffer cmd, const WeightView& w, uint64_t x, uint64_t y, uint32_t ntok,
              uint64_t bias = 0, bool accumulate = false, const InputFusion& fuse = {},
              const QuantizedOutput& out = {});
  // y_i (ntok x nrows_i) = x W_i^T (+ bias_i) for up to kMaxStacked products
  // of one input and row length (Q/K/V, gate/up). On the f16 cooperative-
  // matrix path their rows are stacked into one GEMM, so small products
  // (GQA's K and V) fill the GPU together; otherwise one matmul each.
  void matmul_stacked(VkCommandBuffer cmd, std::span<const StackedProduct> parts, uint64_t x, uint32_t ntok);
  // One token: y = W x' (+ bias), then the RoPE/cache epilogue of rs.
  void matvec_rope(VkCommandBuffer cmd, const WeightView& w, uint64_t x, uint64_t y, uint64_t bias,
                   const InputFusion& fuse, const RopeStore& rs);
  // y (nrows) = silu(gate x') * (up x') for one token, both products in one
  // pass over the input (x' after the optional fused norm). gate and up must
  // have one type and shape.
  void matvec_swiglu(VkCommandBuffer cmd, const WeightView& gate, const WeightView& up, uint64_t x, uint64_t y,
                     const InputFusion& fuse = {}, const QuantizedOutput& out = {});
  // out (ntok x ncols) = rows ids[0..ntok) of W, dequantized.
  void get_rows(VkCommandBuffer cmd, const WeightView& w, uint64_t ids, uint64_t out, uint32_t ntok);
  void rms_norm(VkCommandBuffer cmd, uint64_t x, uint64_t y, uint64_t w, uint32_t ncols, uint32_t nrows,
                float eps);
  // dst = one token's x (times norm, when norm != 0) quantized for the
  // one-token products of InputFusion::quantized (layout: QuantizePush).
  void quantize_input(VkCommandBuffer cmd, uint64_t x, uint64_t norm, float eps, uint32_t ncols, uint64_t dst);
  // Bytes of quantize_input's output for ncols values (a multiple of 32).
  static uint64_t quantized_input_bytes(uint32_t ncols);
  // Whether one-token products of this type (plain and gate/up) read a quantized input.
  static bool reads_quantized_input(GgmlType type);
  void rope(VkCommandBuffer cmd, const RopePush& p);
  void kv_store(VkCommandBuffer cmd, const KvStorePush& p);
  // RoPE on Q (in place) and K, then K and V into the cache, in one dispatch.
  void rope_kv(VkCommandBuffer cmd, const KvStorePush& p);
  // Causal attention (see AttentionPush); the tiling fields are filled here.
  // With p.partials (partials_bytes of scratch), batches with few query rows
  // split their keys over more workgroups, and a second dispatch (after a
  // barrier recorded here) merges the splits.
  void attention(VkCommandBuffer cmd, AttentionPush p, uint64_t partials_bytes = 0);
  // attention_prompt.comp's configuration, q32 or q64 (see push.h); the
  // default comes from HALO_VULKAN_ATTN_PROMPT, else q32.
  void set_attention_prompt_config(const std::string& c) { prompt_config_ = c == "q64" ? "q64" : "q32"; }
  // Scratch that lets attention split the keys of batches up to kMatvecMaxTokens.
  static uint64_t attention_partials_bytes(uint32_t n_head, uint32_t head_dim);
  void swiglu(VkCommandBuffer cmd, uint64_t gate, uint64_t up, uint64_t out, uint32_t n);
  void add(VkCommandBuffer cmd, uint64_t a, uint64_t b, uint64_t out, uint32_t n);
  void read_bandwidth(VkCommandBuffer cmd, uint64_t src, uint64_t out, uint32_t n_vec4, uint32_t groups);

  // Tokens up to which matmul uses the matrix-vector kernel.
  static constexpr uint32_t kMatvecMaxTokens = 8;
  static constexpr size_t kMaxStacked = 3;  // GemmF16Push's output segments
  static constexpr uint32_t kMatvecRowsPerGroup = 4;  // ROWS_PER_WG in matvec.comp
  static constexpr uint32_t kDualRowsPerGroup = 2;    // ROWS_PER_WG of the matvec1d builds

 private:
  void attention_prompt(VkCommandBuffer cmd, const AttentionPush& p);
  // The f16 GEMM of configuration tag (pre-passes, then the GEMM per chunk
  // of rows); false, recording nothing, when the scratch cannot hold it.
  bool matmul_f16(VkCommandBuffer cmd, const std::string& tag, uint32_t tile_rows, uint32_t tile_tokens,
                  const WeightView& w, const MatmulPush& p, const std::string& shape);
  // matmul_stacked's one GEMM; false, recording nothing, where it cannot run.
  bool gemm_stacked(VkCommandBuffer cmd, std::span<const StackedProduct> parts, uint64_t x, uint32_t ntok);
  template <typename Push>
  void dispatch(VkCommandBuffer cmd, const std::string& variant, const Push& push, uint64_t groups_x,
                uint32_t groups_y = 1, const char* shape = nullptr);

  Context& ctx_;
  Pipelines& pipelines_;
  Profiler* profiler_ = nullptr;
  AttentionKernel attention_kernel_ = AttentionKernel::Auto;
  std::string cm_forced_;
  bool cm_fill_ = true;
  uint64_t scratch_ = 0, scratch_bytes_ = 0;
  bool keep_x_ = false, share_x_ = true;
  uint64_t x16_of_ = 0;  // the activations x16 holds while keep_x_ (0: none)
  uint32_t x16_ntok_ = 0, x16_ldk_ = 0;
  std::string prompt_config_ = "q32";
  bool stack_products_ = true;  // HALO_VULKAN_CM_STACK=0: matmul_stacked runs each product alone
  // HALO_VULKAN_MATVEC / _DUAL: one-token builds picked by their letters (tuning).
  std::string matvec_pick_, matvec_dual_pick_;
};

}  // namespace halo::vk
