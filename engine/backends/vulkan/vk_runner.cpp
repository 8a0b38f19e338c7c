#include "engine/backends/vulkan/vk_runner.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/backend/runner_memory.h"
#include "engine/backends/vulkan/vk_env.h"
#include "engine/error.h"
#include "engine/quant/dequant.h"

namespace halo::vk {
namespace {

constexpr uint32_t kMaxBatch = 512;      // tokens recorded into one command buffer
constexpr uint32_t kMaxLogitRows = 64;   // tokens per batch when every position's logits are wanted
constexpr uint64_t kNone = ~uint64_t{0};

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// Readable bytes of a tensor (vectors always have them; matrices in a
// device-only pool do not).
const uint8_t* tensor_bytes(const Tensor& t) {
  if (!t.host) throw Error(ErrorKind::Device, "tensor " + t.name + " is not in host-visible memory");
  return t.host;
}

// The model's rope_freqs (rope_dim / 2 divisors), or none when it has none.
std::vector<float> rope_frequency_factors(const Model& model, uint32_t half) {
  const Tensor* t = model.weights().rope_freqs;
  if (!t) return {};
  if (t->type != GgmlType::F32 || t->ne[0] != half)
    throw Error(ErrorKind::BadModel, "rope_freqs.weight: expected " + std::to_string(half) + " F32 values");
  std::vector<float> factors(half);
  std::memcpy(factors.data(), tensor_bytes(*t), half * sizeof(float));
  for (float f : factors)
    if (!(f > 0.0f) || !std::isfinite(f)) throw Error(ErrorKind::BadModel, "rope_freqs.weight: a factor is not positive");
  return factors;
}

}  // namespace

VulkanRunner::VulkanRunner(std::shared_ptr<Context> ctx, std::shared_ptr<Pipelines> pipelines, VulkanPool& pool,
                           const Model& model, const RunnerOptions& opts)
    : ctx_(std::move(ctx)), pipelines_(std::move(pipelines)), ops_(*ctx_, *pipelines_),
      model_(model), hp_(model.hparams()) {
  for (Step& step : steps_) step.stream = std::make_unique<CommandStream>(*ctx_);
  // Profiling times one command buffer's dispatches at a time: no recording ahead.
  ops_.set_profiler(steps_[0].stream->profiler());
  record_ahead_ = !steps_[0].stream->profiler() && !env_is_zero("HALO_VULKAN_RECORD_AHEAD");
  quantize_inputs_ = ctx_->features().integer_dot_product && !env_is_zero("HALO_VULKAN_DP4A");
  n_ctx_ = opts.n_ctx ? opts.n_ctx : default_context_length(hp_);
  q_dim_ = hp_.n_head * hp_.head_dim;
  kv_dim_ = hp_.n_head_kv * hp_.head_dim;
  if (hp_.head_dim % 2 || hp_.head_dim > 256 || hp_.rope_dim > hp_.head_dim || hp_.rope_dim % 2 ||
      hp_.n_head_kv == 0 || hp_.n_head % hp_.n_head_kv)
    throw Error(ErrorKind::BadModel, "Vulkan backend: unsupported head shape (head_dim " +
                                         std::to_string(hp_.head_dim) + ", rope_dim " + std::to_string(hp_.rope_dim) +
                                         ", heads " + std::to_string(hp_.n_head) + "/" + std::to_string(hp_.n_head_kv) + ")");
  bind_weights(pool);
  build_rope_table();
  allocate_buffers();
}

VulkanRunner::~VulkanRunner() = default;

uint64_t VulkanRunner::memory_bytes() const {
  return small_.size() + kv_.size() + act_.size() + gemm_scratch_.size() + 2 * steps_[0].ids.size() + logits_.size() + rope_.size() +
         (uploaded_ ? uploaded_->size() : 0);
}

void VulkanRunner::bind_weights(VulkanPool& pool) {
  const Weights& w = model_.weights();
  const bool in_pool = std::all_of(model_.tensors().begin(), model_.tensors().end(),
                                   [&](const Tensor& t) { return t.alloc && &t.alloc->pool() == &pool; });
  if (!in_pool) {
    // Copy each matrix into one allocation of this pool (halo-run without a
    // pool, or a model that lives in another backend's pool).
    std::vector<const Tensor*> mats = {w.tok_embd, w.output};
    for (const auto& l : w.layers)
      for (const Tensor* t : {l.wq, l.wk, l.wv, l.wo, l.ffn_gate, l.ffn_up, l.ffn_down}) mats.push_back(t);
    uint64_t total = 0;
    for (const Tensor* t : mats)
      if (!upload_offsets_.count(t)) upload_offsets_[t] = total, total = align_up(total + t->n_bytes, 256);
    uploaded_ = pool.allocate(total, model_.name() + " weights");
    for (const auto& [t, off] : upload_offsets_) pool.write(*uploaded_, off, tensor_bytes(*t), t->n_bytes);
    weights_base_ = pool.device_address(*uploaded_);
  }  // else loaded straight into this pool: used in place

  tok_embd_ = view(w.tok_embd);
  output_ = view(w.output);
  if (tok_embd_.ncols != hp_.n_embd || output_.ncols != hp_.n_embd)
    throw Error(ErrorKind::BadModel, "Vulkan backend: embedding or output rows are not n_embd wide");
  output_norm_ = small_vector(w.output_norm, hp_.n_embd);
  for (const auto& l : w.layers) {
    Layer L;
    L.wq = view(l.wq), L.wk = view(l.wk), L.wv = view(l.wv), L.wo = view(l.wo);
    L.gate = view(l.ffn_gate), L.up = view(l.ffn_up), L.down = view(l.ffn_down);
    L.attn_norm = small_vector(l.attn_norm, hp_.n_embd);
    L.ffn_norm = small_vector(l.ffn_norm, hp_.n_embd);
    L.bq = l.bq ? small_vector(l.bq, q_dim_) : kNone;
    L.bk = l.bk ? small_vector(l.bk, kv_dim_) : kNone;
    L.bv = l.bv ? small_vector(l.bv, kv_dim_) : kNone;
    L.q_norm = l.q_norm ? small_vector(l.q_norm, hp_.head_dim) : kNone;
    L.k_norm = l.k_norm ? small_vector(l.k_norm, hp_.head_dim) : kNone;
    layers_.push_back(L);
  }
  // Norms and biases: one small host-visible buffer of f32.
  small_ = device_copy(small_host_.data(), small_host_.size() * sizeof(float), "norm weights");
  auto fix = [&](uint64_t& off) { off = off == kNone ? 0 : small_.address() + off; };
  fix(output_norm_);
  for (auto& L : layers_)
    for (uint64_t* p : {&L.attn_norm, &L.ffn_norm, &L.bq, &L.bk, &L.bv, &L.q_norm, &L.k_norm}) fix(*p);
}

WeightView VulkanRunner::view(const Tensor* t) {
  WeightView v;
  v.type = t->type;
  v.ncols = static_cast<uint32_t>(t->ne[0]);
  v.nrows = static_cast<uint32_t>(t->ne[1] * t->ne[2] * t->ne[3]);
  auto rb = row_bytes(t->type, t->ne[0]);
  if (!rb || t->n_bytes > 0xFFFFFFFFull)
    throw Error(ErrorKind::BadModel, "Vulkan backend: tensor " + t->name + " is too large for its kernels");
  v.row_bytes = static_cast<uint32_t>(*rb);
  v.address = uploaded_ ? weights_base_ + upload_offsets_.at(t)
                        : static_cast<const VulkanPool&>(t->alloc->pool()).device_address(*t->alloc) + t->offset;
  check_weight(v, t->name);
  return v;
}

uint64_t VulkanRunner::small_vector(const Tensor* t, uint32_t expect) {
  uint64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
  if (n != expect)
    throw Error(ErrorKind::BadModel, "tensor " + t->name + " has " + std::to_string(n) + " elements, expected " +
                                         std::to_string(expect));
  uint64_t off = small_host_.size() * sizeof(float);
  small_host_.resize(small_host_.size() + align_up(n, 16));
  dequantize_row(t->type, tensor_bytes(*t), small_host_.data() + off / sizeof(float), static_cast<int64_t>(n));
  return off;
}

Buffer VulkanRunner::device_copy(const void* data, uint64_t bytes, const std::string& what) {
  // Every matvec workgroup reads the norm weights and every RoPE the table:
  // in host-visible memory (system RAM on a discrete GPU) each read would
  // cross PCIe, so they are staged into device-local memory once.
  Buffer staging(*ctx_, bytes, MemoryUse::Upload, what + " (staging)");
  std::memcpy(staging.host(), data, bytes);
  Buffer dst(*ctx_, bytes, MemoryUse::Device, what);
  VkCommandBuffer cmd = steps_[0].stream->begin();
  VkBufferCopy region{0, 0, bytes};
  vkCmdCopyBuffer(cmd, staging.handle(), dst.handle(), 1, &region);
  steps_[0].stream->submit_and_wait();
  return dst;
}

void VulkanRunner::build_rope_table() {
  // (cos, sin) of pos * base^(-2i/rope_dim) / factor[i], in double so every
  // position is exact to f32. The optional factors (Llama 3.1 rope_freqs)
  // divide each pair's frequency, as on the CPU backend.
  uint32_t half = hp_.rope_dim / 2;
  const std::vector<float> factors = rope_frequency_factors(model_, half);
  std::vector<float> table(uint64_t{n_ctx_} * half * 2);
  for (uint32_t i = 0; i < half; ++i) {
    double freq = std::pow(static_cast<double>(hp_.rope_base), -2.0 * i / hp_.rope_dim);
    if (!factors.empty()) freq /= factors[i];
    for (uint32_t pos = 0; pos < n_ctx_; ++pos) {
      double a = pos * freq;
      table[(uint64_t{pos} * half + i) * 2] = static_cast<float>(std::cos(a));
      table[(uint64_t{pos} * half + i) * 2 + 1] = static_cast<float>(std::sin(a));
    }
  }
  rope_ = device_copy(table.data(), table.size() * sizeof(float), "rope table");
}

void VulkanRunner::allocate_buffers() {
  kv_ = Buffer(*ctx_, kv_cache_bytes(hp_, n_ctx_, 2), MemoryUse::Device, "KV cache");  // f16
  uint64_t B = kMaxBatch, off = 0;
  auto take = [&](uint64_t floats) { uint64_t o = off; off = align_up(off + floats * 4, 256); return o; };
  uint64_t x = take(B * hp_.n_embd), h = take(B * hp_.n_embd), q = take(B * q_dim_), k = take(B * kv_dim_),
           v = take(B * kv_dim_), attn = take(B * q_dim_), gate = take(B * hp_.n_ff), up = take(B * hp_.n_ff);
  uint64_t partials = take(Ops::attention_partials_bytes(hp_.n_head, hp_.head_dim) / 4);
  // Two 8-bit inputs: a product can write the next one's while reading its own.
  const uint64_t xq_floats = Ops::quantized_input_bytes(std::max({hp_.n_embd, hp_.n_ff, q_dim_})) / 4;
  uint64_t xq = take(xq_floats), xq2 = take(xq_floats);
  act_ = Buffer(*ctx_, off, MemoryUse::Device, "activations");
  uint64_t a = act_.address();
  s_ = {a + x, a + h, a + q, a + k, a + v, a + attn, a + gate, a + up, a + partials, a + xq, a + xq2};
  VkCommandBuffer cmd = steps_[0].stream->begin();  // the 8-bit inputs' block counters start at zero
  vkCmdFillBuffer(cmd, act_.handle(), 0, VK_WHOLE_SIZE, 0);
  steps_[0].stream->transfer_barrier();
  steps_[0].stream->submit_and_wait();
  if (ctx_->features().coopmat_gemm) {
    // f16 operands of the prompt GEMM (Ops::set_gemm_scratch): the largest
    // layer matrix in one chunk, and Q/K/V stacked (Ops::matmul_stacked);
    // the output matrix runs in chunks.
    const uint64_t n_embd = hp_.n_embd, n_ff = hp_.n_ff, q = q_dim_, kv = kv_dim_, pad = 64;
    auto padded = [&](uint64_t cols) { return (cols + pad - 1) / pad * pad; };
    const uint64_t largest = std::max({(q + 2 * kv) * padded(n_embd), n_ff * padded(n_embd),
                                       n_embd * padded(n_ff), n_embd * padded(q)});
    const uint32_t max_cols = std::max({hp_.n_embd, hp_.n_ff, q_dim_});
    gemm_scratch_ = Buffer(*ctx_, Ops::gemm_scratch_bytes(max_cols, kMaxBatch, largest), MemoryUse::Device,
                           "GEMM f16 scratch");
    ops_.set_gemm_scratch(gemm_scratch_.address(), gemm_scratch_.size());
  }
  for (Step& step : steps_) step.ids = Buffer(*ctx_, B * sizeof(int32_t), MemoryUse::Upload, "token ids");
  logits_ = Buffer(*ctx_, uint64_t{kMaxLogitRows} * hp_.n_vocab * sizeof(float), MemoryUse::Readback, "logits");
}

// The RMS-normed residual stream as a matmul input: fused into the matvec
// (source x, norm applied on load) or run as a kernel into h first.
std::pair<uint64_t, InputFusion> VulkanRunner::normed_input(VkCommandBuffer cmd, uint64_t norm, uint32_t ntok,
                                                            bool fused) {
  if (fused) return {s_.x, InputFusion{0, norm, hp_.rms_eps}};
  ops_.rms_norm(cmd, s_.x, s_.h, norm, hp_.n_embd, ntok, hp_.rms_eps);
  record_compute_barrier(cmd);
  return {s_.h, InputFusion{}};
}

bool VulkanRunner::quantize_for(uint32_t ntok, std::initializer_list<const WeightView*> weights) const {
  if (ntok != 1 || !quantize_inputs_) return false;
  for (const WeightView* w : weights)
    if (!Ops::reads_quantized_input(w->type) || w->ncols % 32 != 0) return false;
  return true;
}

InputFusion VulkanRunner::quantized(uint64_t norm) const {
  InputFusion in{0, norm, hp_.rms_eps};
  in.quantized = true;
  return in;
}

std::pair<uint64_t, InputFusion> VulkanRunner::attention_input(VkCommandBuffer cmd, const Layer& L, uint32_t ntok,
                                                               bool fused) {
  const bool ready = qkv_input_ready_;
  qkv_input_ready_ = false;
  if (!quantize_for(ntok, {&L.wq, &L.wk, &L.wv})) return normed_input(cmd, L.attn_norm, ntok, fused);
  if (!ready) {  // the first layer, or a previous layer that could not write it
    ops_.quantize_input(cmd, s_.x, L.attn_norm, hp_.rms_eps, hp_.n_embd, s_.xq);
    record_compute_barrier(cmd);
  }
  return {s_.xq, quantized(L.attn_norm)};
}

namespace {
bool same_layout(const WeightView& a, const WeightView& b) {
  return a.type == b.type && a.ncols == b.ncols && a.nrows == b.nrows && a.row_bytes == b.row_bytes;
}
}  // namespace

void VulkanRunner::record_layer(VkCommandBuffer cmd, uint32_t li, uint32_t ntok, uint32_t pos0) {
  const Layer& L = layers_[li];
  uint64_t layer_kv = uint64_t{li} * 2 * n_ctx_ * kv_dim_ * 2;
  uint64_t k_cache = kv_.address() + layer_kv, v_cache = k_cache + uint64_t{n_ctx_} * kv_dim_ * 2;
  // Decode batches fuse the RMS norms and the SwiGLU into the matvec inputs,
  // so a layer is six dependent steps; prompt batches run them as kernels.
  const bool fused = ntok <= Ops::kMatvecMaxTokens;
  const float eps = hp_.rms_eps;

  const auto [attn_src, attn_in] = attention_input(cmd, L, ntok, fused);
  if (ntok == 1 && hp_.rope_layout != RopeLayout::NeoX && !L.q_norm && fuse_rope_) {
    // One token, adjacent RoPE pairs, no per-head norms: the projections
    // rotate Q and K and write K and V into the cache themselves.
    RopeStore rs{rope_.address(), 0, pos0, hp_.head_dim, hp_.rope_dim};
    ops_.matvec_rope(cmd, L.wq, attn_src, s_.q, L.bq, attn_in, rs);
    rs.cache = k_cache + uint64_t{pos0} * kv_dim_ * 2;
    ops_.matvec_rope(cmd, L.wk, attn_src, 0, L.bk, attn_in, rs);
    ops_.matvec_rope(cmd, L.wv, attn_src, 0, L.bv, attn_in,
                     RopeStore{0, v_cache + uint64_t{pos0} * kv_dim_ * 2, pos0, hp_.head_dim, hp_.rope_dim});
    record_compute_barrier(cmd);
  } else {
    if (fused) {
      ops_.matmul(cmd, L.wq, attn_src, s_.q, ntok, L.bq, false, attn_in);
      ops_.matmul(cmd, L.wk, attn_src, s_.k, ntok, L.bk, false, attn_in);
      ops_.matmul(cmd, L.wv, attn_src, s_.v, ntok, L.bv, false, attn_in);
    } else {
      const StackedProduct qkv[] = {{L.wq, s_.q, L.bq}, {L.wk, s_.k, L.bk}, {L.wv, s_.v, L.bv}};
      ops_.matmul_stacked(cmd, qkv, attn_src, ntok);
    }
    record_compute_barrier(cmd);
    if (L.q_norm) {
      ops_.rms_norm(cmd, s_.q, s_.q, L.q_norm, hp_.head_dim, ntok * hp_.n_head, eps);
      ops_.rms_norm(cmd, s_.k, s_.k, L.k_norm, hp_.head_dim, ntok * hp_.n_head_kv, eps);
      record_compute_barrier(cmd);
    }
    KvStorePush kv{s_.k, s_.v, k_cache, v_cache, ntok, kv_dim_, pos0};
    kv.q = s_.q;
    kv.table = rope_.address();
    kv.n_head = hp_.n_head;
    kv.head_dim = hp_.head_dim;
    kv.rope_dim = hp_.rope_dim;
    kv.neox = hp_.rope_layout == RopeLayout::NeoX ? 1u : 0u;
    ops_.rope_kv(cmd, kv);
    record_compute_barrier(cmd);
  }
  float scale = 1.0f / std::sqrt(static_cast<float>(hp_.head_dim));
  AttentionPush attn{s_.q, k_cache, v_cache, s_.attn, ntok, hp_.n_head, hp_.n_head_kv, hp_.head_dim, pos0, scale};
  attn.partials = s_.attn_partials;
  ops_.attention(cmd, attn, Ops::attention_partials_bytes(hp_.n_head, hp_.head_dim));
  record_compute_barrier(cmd);
  // 8-bit inputs for the products that read them are written by the
  // products before them (QuantizedOutput), not by a step of their own.
  const bool quantized_ffn = quantize_for(ntok, {&L.gate, &L.up});
  ops_.matmul(cmd, L.wo, s_.attn, s_.x, ntok, 0, /*accumulate=*/true, {},  // residual add
              quantized_ffn ? QuantizedOutput{s_.xq, L.ffn_norm} : QuantizedOutput{});
  record_compute_barrier(cmd);

  const auto [ffn_src, ffn_in] =
      quantized_ffn ? std::pair{s_.xq, quantized(L.ffn_norm)} : normed_input(cmd, L.ffn_norm, ntok, fused);
  if (ntok == 1 && same_layout(L.gate, L.up) && fuse_gate_up_) {
    // One token: gate and up in one pass, SwiGLU applied on the way out.
    const bool quantized_down = quantize_for(ntok, {&L.down});
    ops_.matvec_swiglu(cmd, L.gate, L.up, ffn_src, s_.gate, ffn_in,
                       quantized_down ? QuantizedOutput{s_.xq2, 0} : QuantizedOutput{});
    record_compute_barrier(cmd);
    const Layer* next = li + 1 < layers_.size() ? &layers_[li + 1] : nullptr;
    qkv_input_ready_ = next && quantize_for(ntok, {&next->wq, &next->wk, &next->wv});
    ops_.matmul(cmd, L.down, quantized_down ? s_.xq2 : s_.gate, s_.x, ntok, 0, /*accumulate=*/true,
                quantized_down ? quantized(0) : InputFusion{},
                qkv_input_ready_ ? QuantizedOutput{s_.xq, next->attn_norm} : QuantizedOutput{});
    record_compute_barrier(cmd);
    return;
  }
  if (fused) {
    ops_.matmul(cmd, L.gate, ffn_src, s_.gate, ntok, 0, false, ffn_in);
    ops_.matmul(cmd, L.up, ffn_src, s_.up, ntok, 0, false, ffn_in);
  } else {
    const StackedProduct gate_up[] = {{L.gate, s_.gate, 0}, {L.up, s_.up, 0}};
    ops_.matmul_stacked(cmd, gate_up, ffn_src, ntok);
  }
  record_compute_barrier(cmd);
  if (fused) {
    ops_.matmul(cmd, L.down, s_.gate, s_.x, ntok, 0, /*accumulate=*/true, InputFusion{s_.up, 0, 0});
  } else {
    ops_.swiglu(cmd, s_.gate, s_.up, s_.gate, ntok * hp_.n_ff);
    record_compute_barrier(cmd);
    ops_.matmul(cmd, L.down, s_.gate, s_.x, ntok, 0, /*accumulate=*/true);  // residual add
  }
  record_compute_barrier(cmd);
}

void VulkanRunner::record_batch(VkCommandBuffer cmd, uint64_t ids, uint32_t ntok, uint32_t pos0,
                                uint32_t first_logit_row, uint32_t n_logit_rows) {
  ops_.get_rows(cmd, tok_embd_, ids, s_.x, ntok);
  record_compute_barrier(cmd);
  qkv_input_ready_ = false;
  for (uint32_t li = 0; li < layers_.size(); ++li) record_layer(cmd, li, ntok, pos0);
  if (n_logit_rows == 0) return;
  uint64_t x_rows = s_.x + uint64_t{first_logit_row} * hp_.n_embd * 4;
  if (n_logit_rows <= Ops::kMatvecMaxTokens) {
    ops_.matmul(cmd, output_, x_rows, logits_.address(), n_logit_rows, 0, false,
                InputFusion{0, output_norm_, hp_.rms_eps});
    return;
  }
  ops_.rms_norm(cmd, x_rows, s_.h, output_norm_, hp_.n_embd, n_logit_rows, hp_.rms_eps);
  record_compute_barrier(cmd);
  ops_.matmul(cmd, output_, s_.h, logits_.address(), n_logit_rows);
}

void VulkanRunner::eval(std::span<const int32_t> tokens, uint32_t n_past, bool all_logits,
                        std::vector<float>& logits) {
  if (tokens.empty()) throw Error(ErrorKind::InvalidArgument, "eval needs at least one token");
  if (n_past > n_ctx_ || tokens.size() > n_ctx_ - n_past)
    throw Error(ErrorKind::InvalidArgument, "context full: " + std::to_string(n_past) + " + " +
                                                std::to_string(tokens.size()) + " tokens exceed n_ctx " +
                                                std::to_string(n_ctx_));
  for (int32_t id : tokens)
    if (id < 0 || static_cast<uint32_t>(id) >= hp_.n_vocab)
      throw Error(ErrorKind::InvalidArgument, "token id " + std::to_string(id) + " is outside the vocabulary of " +
                                                  std::to_string(hp_.n_vocab));
  const uint64_t n = tokens.size(), vocab = hp_.n_vocab;
  logits.resize(all_logits ? n * vocab : vocab);
  if (n == 1 && !all_logits) return decode_step(tokens[0], n_past, logits);
  ahead_valid_ = false;
  Step& s = steps_[0];
  const uint32_t step = all_logits ? kMaxLogitRows : kMaxBatch;
  for (uint64_t start = 0; start < n; start += step) {
    uint32_t m = static_cast<uint32_t>(std::min<uint64_t>(step, n - start));
    bool last = start + m == n;
    std::memcpy(s.ids.host(), tokens.data() + start, m * sizeof(int32_t));
    VkCommandBuffer cmd = s.stream->begin();
    uint32_t first_row = all_logits ? 0 : m - 1, rows = all_logits ? m : (last ? 1 : 0);
    record_batch(cmd, s.ids.address(), m, n_past + static_cast<uint32_t>(start), first_row, rows);
    s.stream->submit_and_wait();
    const float* out = static_cast<const float*>(logits_.host());
    if (all_logits) std::memcpy(logits.data() + start * vocab, out, uint64_t{m} * vocab * sizeof(float));
    else if (last) std::memcpy(logits.data(), out, vocab * sizeof(float));
  }
}

// One token at n_past, the last row's logits: generation. The GPU's step
// is recorded while the previous one ran (when that guessed this position),
// and the next position's step is recorded while this one runs, so the
// host's recording (hundreds of dispatches) leaves no gap between steps.
void VulkanRunner::decode_step(int32_t token, uint32_t n_past, std::vector<float>& logits) {
  const bool ready = ahead_valid_ && ahead_pos_ == n_past;
  ahead_valid_ = false;
  const int now = ready ? 1 - current_ : current_;
  Step& s = steps_[now];
  std::memcpy(s.ids.host(), &token, sizeof token);
  if (!ready) record_batch(s.stream->begin(), s.ids.address(), 1, n_past, 0, 1);
  s.stream->submit();
  const bool guess = record_ahead_ && n_past + 1 < n_ctx_;
  if (guess) {
    Step& next = steps_[1 - now];
    record_batch(next.stream->begin(), next.ids.address(), 1, n_past + 1, 0, 1);
  }
  s.stream->wait();
  current_ = now;
  ahead_valid_ = guess;
  ahead_pos_ = n_past + 1;
  std::memcpy(logits.data(), logits_.host(), hp_.n_vocab * sizeof(float));
}

}  // namespace halo::vk
