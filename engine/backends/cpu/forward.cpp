// The forward pass of llama, qwen2 and qwen3 on the CPU (f32 activations):
//   x = embed(tokens)
//   per layer: x += Wo · attention(rope(norm?(Wq·n(x) + bq)), rope(norm?(Wk·n(x) + bk)), Wv·n(x) + bv)
//              x += Wdown · (silu(Wgate · n(x)) * (Wup · n(x)))
//   logits = Wout · n(x)
// HParams flags choose the variant: qkv_bias (qwen2), qk_norm (qwen3), rope layout.
#include <algorithm>

#include "engine/backends/cpu/attention.h"
#include "engine/backends/cpu/matmul.h"
#include "engine/backends/cpu/runner.h"

namespace halo::cpu {
namespace {

// rows (n × dim): row t += bias (dim)
void add_bias(float* rows, int64_t n, const std::vector<float>& bias) {
  if (bias.empty()) return;
  const int64_t dim = static_cast<int64_t>(bias.size());
  for (int64_t t = 0; t < n; ++t) add(rows + t * dim, bias.data(), dim);
}

// Per-head RMS norm (qwen3): vec (n_heads × head_dim), weight (head_dim).
void head_norm(float* vec, int64_t n_heads, int64_t head_dim, const std::vector<float>& weight, float eps) {
  if (weight.empty()) return;
  for (int64_t h = 0; h < n_heads; ++h) rms_norm(vec + h * head_dim, weight.data(), head_dim, eps, vec + h * head_dim);
}

}  // namespace

void CpuRunner::forward(std::span<const int32_t> tokens, int64_t n_past, int64_t n_out, float* logits) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t n_embd = hp_.n_embd;
  ensure_scratch(n);
  const Weights& w = model_.weights();

  // x (n × n_embd) = rows of the embedding table
  pool_.parallel_for(n, [&](uint64_t begin, uint64_t end) {
    for (uint64_t t = begin; t < end; ++t) decode_row(*w.tok_embd, tokens[t], x_.data() + t * n_embd);
  });
  angles_.resize(n);
  for (int64_t t = 0; t < n; ++t) rope_angles(n_past + t, hp_.rope_dim, hp_.rope_base, rope_freqs_.empty() ? nullptr : rope_freqs_.data(), angles_[t]);

  for (uint32_t layer = 0; layer < hp_.n_layer; ++layer) {
    attention_block(static_cast<int>(layer), n, n_past);
    ffn_block(static_cast<int>(layer), n);
  }
  if (n_out == 0) return;

  // Only the last n_out rows need logits: (n_out × n_embd) -> (n_out × n_vocab)
  const int64_t first = n - n_out;
  for (int64_t t = first; t < n; ++t)
    rms_norm(x_.data() + t * n_embd, output_norm_.data(), n_embd, hp_.rms_eps, xn_.data() + (t - first) * n_embd);
  matmul(*w.output, xn_.data(), n_out, logits, pool_);
}

void CpuRunner::attention_block(int layer, int64_t n, int64_t n_past) {
  const LayerWeights& lw = model_.weights().layers[layer];
  const LayerVectors& lv = layer_vectors_[layer];
  const int64_t n_embd = hp_.n_embd, head_dim = hp_.head_dim;
  const int64_t q_dim = hp_.n_head * head_dim, kv_dim = hp_.n_head_kv * head_dim;

  // xn (n × n_embd) = rms_norm(x) * attn_norm
  pool_.parallel_for(n, [&](uint64_t begin, uint64_t end) {
    for (uint64_t t = begin; t < end; ++t)
      rms_norm(x_.data() + t * n_embd, lv.attn_norm.data(), n_embd, hp_.rms_eps, xn_.data() + t * n_embd);
  });

  // q (n × q_dim), k (n × kv_dim); v (n × kv_dim) straight into the cache rows n_past..n_past+n
  float* k_rows = k_.data();
  float* v_rows = v_cache_[layer].data() + n_past * kv_dim;
  const MatmulOut qkv[] = {{lw.wq, q_.data()}, {lw.wk, k_rows}, {lw.wv, v_rows}};
  matmul_set(qkv, xn_.data(), n, pool_);

  pool_.parallel_for(n, [&](uint64_t begin, uint64_t end) {
    for (uint64_t t = begin; t < end; ++t) {
      float* q = q_.data() + t * q_dim;
      float* k = k_rows + t * kv_dim;
      float* v = v_rows + t * kv_dim;
      add_bias(q, 1, lv.bq);
      add_bias(k, 1, lv.bk);
      add_bias(v, 1, lv.bv);
      head_norm(q, hp_.n_head, head_dim, lv.q_norm, hp_.rms_eps);
      head_norm(k, hp_.n_head_kv, head_dim, lv.k_norm, hp_.rms_eps);
      rope(q, hp_.n_head, head_dim, hp_.rope_dim, hp_.rope_layout, angles_[t]);
      rope(k, hp_.n_head_kv, head_dim, hp_.rope_dim, hp_.rope_layout, angles_[t]);
    }
  });

  // keys into the transposed cache: k_t[d][n_past + t] = k[t][d] for d < kv_dim
  float* k_t = k_cache_[layer].data();
  for (int64_t t = 0; t < n; ++t)
    for (int64_t d = 0; d < kv_dim; ++d) k_t[d * n_ctx_ + n_past + t] = k_rows[t * kv_dim + d];

  const AttentionShape shape{hp_.n_head, hp_.n_head_kv, head_dim};
  attention(q_.data(), k_t, v_cache_[layer].data(), n_ctx_, n, n_past, shape, attn_.data(), pool_);

  // x += Wo · attn
  matmul(*lw.wo, attn_.data(), n, proj_.data(), pool_);
  add(x_.data(), proj_.data(), n * n_embd);
}

void CpuRunner::ffn_block(int layer, int64_t n) {
  const LayerWeights& lw = model_.weights().layers[layer];
  const LayerVectors& lv = layer_vectors_[layer];
  const int64_t n_embd = hp_.n_embd, n_ff = hp_.n_ff;

  pool_.parallel_for(n, [&](uint64_t begin, uint64_t end) {
    for (uint64_t t = begin; t < end; ++t)
      rms_norm(x_.data() + t * n_embd, lv.ffn_norm.data(), n_embd, hp_.rms_eps, xn_.data() + t * n_embd);
  });
  // gate, up (n × n_ff); gate = silu(gate) * up; x += Wdown · gate
  const MatmulOut gate_up[] = {{lw.ffn_gate, gate_.data()}, {lw.ffn_up, up_.data()}};
  matmul_set(gate_up, xn_.data(), n, pool_);
  pool_.parallel_for(n, [&](uint64_t begin, uint64_t end) {
    swiglu(gate_.data() + begin * n_ff, up_.data() + begin * n_ff, (end - begin) * n_ff);
  });
  matmul(*lw.ffn_down, gate_.data(), n, proj_.data(), pool_);
  add(x_.data(), proj_.data(), n * n_embd);
}

}  // namespace halo::cpu
