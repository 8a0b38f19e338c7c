#include "engine/backends/cpu/runner.h"

#include <algorithm>
#include <string>

#include "engine/backend/runner_memory.h"
#include "engine/backends/cpu/kernels.h"
#include "engine/backends/cpu/matmul.h"
#include "engine/error.h"

namespace halo::cpu {
namespace {

constexpr int64_t kMaxBatch = 512;  // tokens per forward pass; longer inputs run in chunks

std::vector<float> decode_vector(const Tensor* t) {
  if (!t) return {};
  std::vector<float> out(t->ne[0]);
  decode_row(*t, 0, out.data());
  return out;
}

// Fails at attach time, not mid-generation, when a weight cannot be read here.
void check_readable(const Tensor* t) {
  if (!t) return;
  if (!t->host) throw Error(ErrorKind::Device, "tensor " + t->name + " is not in host-visible memory");
  weight_kernels(t->type);
}

}  // namespace

CpuRunner::CpuRunner(const Model& model, const RunnerOptions& opts)
    : model_(model), hp_(model.hparams()), pool_(opts.n_threads) {
  n_ctx_ = opts.n_ctx ? opts.n_ctx : default_context_length(hp_);
  const Weights& w = model.weights();
  for (const Tensor* t : {w.tok_embd, w.output_norm, w.output}) check_readable(t);
  output_norm_ = decode_vector(w.output_norm);
  check_readable(w.rope_freqs);
  rope_freqs_ = decode_vector(w.rope_freqs);
  for (const LayerWeights& l : w.layers) {
    for (const Tensor* t : {l.attn_norm, l.wq, l.wk, l.wv, l.wo, l.bq, l.bk, l.bv, l.q_norm, l.k_norm,
                            l.ffn_norm, l.ffn_gate, l.ffn_up, l.ffn_down})
      check_readable(t);
    layer_vectors_.push_back({decode_vector(l.attn_norm), decode_vector(l.ffn_norm), decode_vector(l.bq),
                              decode_vector(l.bk), decode_vector(l.bv), decode_vector(l.q_norm),
                              decode_vector(l.k_norm)});
  }
  const size_t kv_floats = kv_layer_elements(hp_, n_ctx_);  // the size halod reserves (runner_memory.h)
  try {
    k_cache_.assign(hp_.n_layer, std::vector<float>(kv_floats));
    v_cache_.assign(hp_.n_layer, std::vector<float>(kv_floats));
    // The largest batch's scratch now, so memory_bytes() is the runner's
    // footprint from the start (halod counts it against its budget).
    ensure_scratch(std::min<int64_t>(n_ctx_, kMaxBatch));
  } catch (const std::bad_alloc&) {
    throw Error(ErrorKind::NoMemory, "cannot allocate the KV cache and scratch for " + std::to_string(n_ctx_) + " tokens");
  }
}

uint64_t CpuRunner::memory_bytes() const {
  uint64_t floats = 0;
  for (const auto& c : k_cache_) floats += c.size();
  for (const auto& c : v_cache_) floats += c.size();
  for (const auto* s : {&x_, &xn_, &q_, &k_, &attn_, &proj_, &gate_, &up_}) floats += s->size();
  return floats * sizeof(float);
}

void CpuRunner::ensure_scratch(int64_t n) {
  if (n <= scratch_tokens_) return;
  const int64_t q_dim = static_cast<int64_t>(hp_.n_head) * hp_.head_dim;
  x_.resize(n * hp_.n_embd);
  xn_.resize(n * std::max<int64_t>(hp_.n_embd, q_dim));
  q_.resize(n * q_dim);
  k_.resize(n * static_cast<int64_t>(hp_.n_head_kv) * hp_.head_dim);
  attn_.resize(n * q_dim);
  proj_.resize(n * hp_.n_embd);
  gate_.resize(n * hp_.n_ff);
  up_.resize(n * hp_.n_ff);
  scratch_tokens_ = n;
}

void CpuRunner::eval(std::span<const int32_t> tokens, uint32_t n_past, bool all_logits,
                     std::vector<float>& logits) {
  if (tokens.empty()) throw Error(ErrorKind::InvalidArgument, "no tokens to evaluate");
  if (n_past > n_cached_) {
    throw Error(ErrorKind::InvalidArgument, "n_past " + std::to_string(n_past) + " is past the " +
                                                std::to_string(n_cached_) + " cached positions");
  }
  if (static_cast<uint64_t>(n_past) + tokens.size() > n_ctx_) {
    throw Error(ErrorKind::InvalidArgument, std::to_string(n_past + tokens.size()) +
                                                " tokens do not fit the context of " + std::to_string(n_ctx_));
  }
  for (int32_t id : tokens) {
    if (id < 0 || static_cast<uint32_t>(id) >= hp_.n_vocab)
      throw Error(ErrorKind::InvalidArgument, "token id " + std::to_string(id) + " is outside the vocabulary of " +
                                                  std::to_string(hp_.n_vocab));
  }
  const int64_t n = static_cast<int64_t>(tokens.size());
  logits.resize(static_cast<size_t>(all_logits ? n : 1) * hp_.n_vocab);
  n_cached_ = n_past;  // entries past n_past are dropped
  for (int64_t begin = 0; begin < n; begin += kMaxBatch) {
    const int64_t count = std::min(kMaxBatch, n - begin);
    const bool last_chunk = begin + count == n;
    const int64_t n_out = all_logits ? count : (last_chunk ? 1 : 0);
    float* out = all_logits ? logits.data() + begin * hp_.n_vocab : logits.data();
    forward(tokens.subspan(begin, count), n_past + begin, n_out, out);
    n_cached_ = static_cast<uint32_t>(n_past + begin + count);
  }
}

}  // namespace halo::cpu
