// Architecture hyperparameters, read from GGUF metadata ("<arch>.*" keys).
#pragma once
#include <cstdint>
#include <string>

namespace halo {

enum class Arch { Llama, Qwen2, Qwen3 };

// Normal: rotate adjacent pairs (2i, 2i+1) as llama does.
// NeoX: rotate (i, i + rope_dim/2) as qwen2/qwen3 do.
enum class RopeLayout { Normal, NeoX };

struct HParams {
  Arch arch = Arch::Llama;
  std::string arch_name;     // general.architecture
  uint32_t n_vocab = 0;
  uint32_t n_ctx_train = 0;  // <arch>.context_length
  uint32_t n_embd = 0;
  uint32_t n_layer = 0;
  uint32_t n_head = 0;
  uint32_t n_head_kv = 0;
  uint32_t head_dim = 0;     // <arch>.attention.key_length, else n_embd / n_head
  uint32_t n_ff = 0;
  uint32_t rope_dim = 0;     // <arch>.rope.dimension_count, else head_dim
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  RopeLayout rope_layout = RopeLayout::Normal;
  bool qkv_bias = false;     // qwen2
  bool qk_norm = false;      // qwen3: RMS norm per head on Q and K before RoPE
  bool tied_output = false;  // output projection is token_embd
};

}  // namespace halo
