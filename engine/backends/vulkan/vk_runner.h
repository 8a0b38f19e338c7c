// A model bound to the Vulkan device: its weights (in the pool), f16 KV
// cache, scratch activations, and the forward pass recorded per batch.
#pragma once
#include <initializer_list>
#include <memory>
#include <utility>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backends/vulkan/vk_env.h"
#include "engine/backends/vulkan/vk_ops.h"
#include "engine/backends/vulkan/vk_pool.h"
#include "engine/model/model.h"

namespace halo::vk {

class VulkanRunner final : public Runner {
 public:
  // ctx is shared so the device outlives every runner on it.
  VulkanRunner(std::shared_ptr<Context> ctx, std::shared_ptr<Pipelines> pipelines, VulkanPool& pool,
               const Model& model, const RunnerOptions& opts);
  ~VulkanRunner() override;

  void eval(std::span<const int32_t> tokens, uint32_t n_past, bool all_logits,
            std::vector<float>& logits) override;
  uint32_t n_ctx() const override { return n_ctx_; }
  uint64_t memory_bytes() const override;

 private:
  struct Layer {
    WeightView wq, wk, wv, wo, gate, up, down;
    uint64_t attn_norm = 0, ffn_norm = 0;  // f32 copies
    uint64_t bq = 0, bk = 0, bv = 0;        // 0 when absent
    uint64_t q_norm = 0, k_norm = 0;
  };
  struct Scratch {  // device addresses inside act_
    uint64_t x, h, q, k, v, attn, gate, up;
    uint64_t attn_partials;  // Ops::attention_partials_bytes: key splits of decode attention
    uint64_t xq, xq2;        // one-token product inputs in 8 bits (Ops::quantized_input_bytes)
  };

  void bind_weights(VulkanPool& pool);
  WeightView view(const Tensor* t);
  uint64_t small_vector(const Tensor* t, uint32_t expect);
  void build_rope_table();
  Buffer device_copy(const void* data, uint64_t bytes, const std::string& what);
  void allocate_buffers();
  void record_batch(VkCommandBuffer cmd, uint64_t ids, uint32_t ntok, uint32_t pos0, uint32_t first_logit_row,
                    uint32_t n_logit_rows);
  void decode_step(int32_t token, uint32_t n_past, std::vector<float>& logits);
  void record_layer(VkCommandBuffer cmd, uint32_t layer, uint32_t ntok, uint32_t pos0);
  std::pair<uint64_t, InputFusion> normed_input(VkCommandBuffer cmd, uint64_t norm, uint32_t ntok, bool fused);
  // Whether one token's products by these weights read an 8-bit input.
  bool quantize_for(uint32_t ntok, std::initializer_list<const WeightView*> weights) const;
  // An 8-bit input with these norm weights folded in (0: none).
  InputFusion quantized(uint64_t norm) const;
  // The Q/K/V products' input: 8-bit (written by the previous layer's down
  // projection, else quantized here), or normed as normed_input does.
  std::pair<uint64_t, InputFusion> attention_input(VkCommandBuffer cmd, const Layer& L, uint32_t ntok, bool fused);

  std::shared_ptr<Context> ctx_;
  std::shared_ptr<Pipelines> pipelines_;
  Ops ops_;
  const Model& model_;
  HParams hp_;
  uint32_t n_ctx_ = 0;
  uint32_t kv_dim_ = 0, q_dim_ = 0;

  std::unique_ptr<PoolAllocation> uploaded_;  // weights copied in when the model was not in this pool
  uint64_t weights_base_ = 0;                 // device address of uploaded_
  std::unordered_map<const Tensor*, uint64_t> upload_offsets_;
  std::vector<float> small_host_;             // norms and biases as f32, staged for small_
  Buffer small_, kv_, act_, logits_, rope_;
  // Forward passes: two command buffers, each with its token ids, so one
  // decode step can be recorded while the other runs (decode_step).
  struct Step {
    std::unique_ptr<CommandStream> stream;
    Buffer ids;
  };
  Step steps_[2];
  int current_ = 0;         // the step that ran last
  bool ahead_valid_ = false;  // the other step holds a recorded decode step at ahead_pos_
  uint32_t ahead_pos_ = 0;
  bool record_ahead_ = true;  // HALO_VULKAN_RECORD_AHEAD=0 turns it off
  Buffer gemm_scratch_;  // f16 GEMM operands (Ops::set_gemm_scratch); empty without coopmat
  WeightView tok_embd_, output_;
  uint64_t output_norm_ = 0;
  std::vector<Layer> layers_;
  Scratch s_{};
  // Decode fusions, on unless HALO_VULKAN_MATVEC_DUAL=0 (gate and up as two
  // products) or HALO_VULKAN_ROPE_EPILOGUE=0 (RoPE as its own kernel).
  bool fuse_gate_up_ = !env_is_zero("HALO_VULKAN_MATVEC_DUAL");
  bool fuse_rope_ = !env_is_zero("HALO_VULKAN_ROPE_EPILOGUE");
  // One-token Q4_0/Q8_0 products in 8-bit integers, on inputs the products
  // before them quantize (QuantizedOutput), where the device has integer
  // dot products; HALO_VULKAN_DP4A=0 keeps them in f32.
  bool quantize_inputs_ = false;
  bool qkv_input_ready_ = false;  // while recording: s_.xq holds the next layer's Q/K/V input
};

}  // namespace halo::vk
