// What a runner will allocate, known before attaching: the KV cache size by
// the formula every runner uses, and the hyperparameters it needs, read from
// a GGUF header without loading the weights. halod reserves this much of its
// pool budget before a load (daemon/manager.cpp), so the formula lives here,
// once, instead of in each caller.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/model/hparams.h"

namespace halo {

// The KV length a runner takes when RunnerOptions::n_ctx is 0: the model's
// training context, capped at 4096 (4096 when the model does not say).
uint32_t default_context_length(const HParams& hp);

// Bytes of one cached key or value element: f32 on the CPU backend, f16 on
// the GPU backends.
uint32_t kv_element_bytes(std::string_view backend);

// Elements of one layer's keys (or values): n_ctx x n_head_kv x head_dim.
uint64_t kv_layer_elements(const HParams& hp, uint32_t n_ctx);

// The whole KV cache: n_layer x 2 (keys and values) x kv_layer_elements x element_bytes.
uint64_t kv_cache_bytes(const HParams& hp, uint32_t n_ctx, uint32_t element_bytes);

// The hyperparameters of the GGUF model open at fd (not taken over; name is
// for messages), from its metadata alone. Throws halo::Error like Model::load.
HParams read_hparams_fd(int fd, const std::string& name);

}  // namespace halo
