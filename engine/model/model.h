// A loaded model: hyperparameters, tokenizer and weights, independent of any
// backend. Backends attach to a Model (engine/backend/backend.h) and read its
// tensors in place: weights stay quantized, in the GGUF mapping or in a pool
// allocation, and are never expanded to f32 copies.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/model/hparams.h"
#include "engine/pool/pool.h"
#include "engine/quant/types.h"

namespace halo {

class Tokenizer;

struct Tensor {
  std::string name;
  GgmlType type = GgmlType::F32;
  uint64_t ne[4] = {1, 1, 1, 1};  // ne[0]: row length (input features), ne[1]: rows
  uint64_t n_bytes = 0;
  const uint8_t* host = nullptr;  // readable bytes (pool mapping or file mapping), may be null
                                  // only for pools that are not host-visible
  uint64_t offset = 0;            // byte offset inside Model::allocation() (0 when none)
};

struct LayerWeights {
  const Tensor* attn_norm;  // (n_embd)
  const Tensor* wq;         // (n_embd -> n_head * head_dim)
  const Tensor* wk;         // (n_embd -> n_head_kv * head_dim)
  const Tensor* wv;         // (n_embd -> n_head_kv * head_dim)
  const Tensor* wo;         // (n_head * head_dim -> n_embd)
  const Tensor* bq = nullptr;      // qwen2 biases, (n_head * head_dim) etc.
  const Tensor* bk = nullptr;
  const Tensor* bv = nullptr;
  const Tensor* q_norm = nullptr;  // qwen3, (head_dim)
  const Tensor* k_norm = nullptr;
  const Tensor* ffn_norm;   // (n_embd)
  const Tensor* ffn_gate;   // (n_embd -> n_ff)
  const Tensor* ffn_up;     // (n_embd -> n_ff)
  const Tensor* ffn_down;   // (n_ff -> n_embd)
};

struct Weights {
  const Tensor* tok_embd;     // (n_embd) x n_vocab rows
  const Tensor* output_norm;  // (n_embd)
  const Tensor* output;       // (n_embd -> n_vocab); == tok_embd when tied
  const Tensor* rope_freqs = nullptr;  // optional (rope_dim / 2): divisors of the RoPE
                                       // frequencies (Llama 3.1 context scaling)
  std::vector<LayerWeights> layers;
};

struct LoadOptions {
  // When set, tensor data is read from the file once into one allocation of
  // this pool; otherwise tensors are read in place from the file mapping.
  Pool* pool = nullptr;
  // Called with the fraction loaded (0..1) while copying into the pool.
  std::function<void(double)> progress;
};

class Model {
 public:
  // Throws halo::Error: Io (cannot open), BadModel (malformed GGUF, unknown
  // architecture or tensor type, missing tensors: all listed), NoMemory (pool).
  static std::unique_ptr<Model> load(const std::string& path, const LoadOptions& opts = {});
  static std::unique_ptr<Model> load_fd(int fd, const std::string& name, const LoadOptions& opts = {});
  ~Model();

  const HParams& hparams() const { return hp_; }
  const Weights& weights() const { return w_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const gguf::File& gguf() const { return *file_; }
  const PoolAllocation* allocation() const { return alloc_.get(); }

  std::string name() const;          // general.name, else the file name
  std::string quantization() const;  // dominant weight type, e.g. "Q4_0"
  uint64_t n_params() const;
  uint64_t weight_bytes() const;

 private:
  Model() = default;
  void bind(const LoadOptions& opts);

  std::unique_ptr<gguf::File> file_;
  HParams hp_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<PoolAllocation> alloc_;
  std::vector<Tensor> tensors_;  // stable: Weights points into it
  Weights w_;
};

}  // namespace halo
