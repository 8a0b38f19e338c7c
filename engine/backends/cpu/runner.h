// The CPU backend's Runner: KV cache, scratch activations and the forward
// pass (forward.cpp) of llama, qwen2 and qwen3 for one attached model.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backends/cpu/ops.h"
#include "engine/backends/cpu/thread_pool.h"
#include "engine/model/model.h"

namespace halo::cpu {

// Small per-layer vectors (norm weights, biases) decoded to f32 once at
// attach time; the weight matrices are never copied.
struct LayerVectors {
  std::vector<float> attn_norm, ffn_norm;  // (n_embd)
  std::vector<float> bq, bk, bv;           // qwen2: (n_head * head_dim), (n_head_kv * head_dim) x2
  std::vector<float> q_norm, k_norm;       // qwen3: (head_dim)
};

class CpuRunner final : public Runner {
 public:
  CpuRunner(const Model& model, const RunnerOptions& opts);

  void eval(std::span<const int32_t> tokens, uint32_t n_past, bool all_logits,
            std::vector<float>& logits) override;
  uint32_t n_ctx() const override { return n_ctx_; }
  uint64_t memory_bytes() const override;

 private:
  // Runs tokens at positions [n_past, n_past + n) through the model; writes
  // the logits of the last `n_out` tokens to logits (n_out × n_vocab).
  void forward(std::span<const int32_t> tokens, int64_t n_past, int64_t n_out, float* logits);
  void attention_block(int layer, int64_t n, int64_t n_past);
  void ffn_block(int layer, int64_t n);
  void ensure_scratch(int64_t n);

  const Model& model_;
  const HParams hp_;
  ThreadPool pool_;
  uint32_t n_ctx_;
  uint32_t n_cached_ = 0;  // positions [0, n_cached_) of the KV cache hold valid entries

  std::vector<LayerVectors> layer_vectors_;
  std::vector<float> output_norm_;  // (n_embd)
  std::vector<float> rope_freqs_;   // (rope_dim / 2), empty when the model has none

  // KV cache, f32, per layer: keys transposed (n_head_kv × head_dim × n_ctx),
  // values (n_ctx × n_head_kv × head_dim).
  std::vector<std::vector<float>> k_cache_, v_cache_;

  // Scratch for a batch of up to scratch_tokens_ tokens.
  int64_t scratch_tokens_ = 0;
  std::vector<float> x_;      // residual stream (n × n_embd)
  std::vector<float> xn_;     // normalised input of a block (n × max(n_embd, q_dim))
  std::vector<float> q_;      // (n × n_head × head_dim)
  std::vector<float> k_;      // new keys before they enter the cache (n × n_head_kv × head_dim)
  std::vector<float> attn_;   // (n × n_head × head_dim)
  std::vector<float> proj_;   // block output (n × n_embd)
  std::vector<float> gate_;   // (n × n_ff)
  std::vector<float> up_;     // (n × n_ff)
  std::vector<RopeAngles> angles_;  // per token of the batch
};

}  // namespace halo::cpu
