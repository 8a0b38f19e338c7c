// A loaded model: hyperparameters, tokenizer and weights, independent of any
// backend. Backends attach to a Model (engine/backend/backend.h) and read its
// tensors in place: weights stay quantized, in pool allocations, and are
// never expanded to f32 copies.
//
// A Model owns every byte it keeps: the header is parsed into memory it
// owns and the tensor data is read (pread, O_DIRECT where possible) into
// pool allocations before load returns. It keeps no descriptor or mapping
// of the file, so the caller may close, truncate or replace the file
// afterwards; a file that is cut short while it is read fails the load with
// halo::Error(BadModel) naming the offset.
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
namespace gguf { class FileReader; }

struct Tensor {
  std::string name;
  GgmlType type = GgmlType::F32;
  uint64_t ne[4] = {1, 1, 1, 1};  // ne[0]: row length (input features), ne[1]: rows
  uint64_t n_bytes = 0;
  uint64_t file_offset = 0;        // where its bytes were read from
  const PoolAllocation* alloc = nullptr;  // the pool allocation holding it
  uint64_t offset = 0;             // byte offset inside alloc (a multiple of the file's alignment)
  const uint8_t* host = nullptr;   // readable bytes: the pool's host mapping; null for
                                   // matrices in a pool that is not host-visible (vectors
                                   // such as norms and biases always have host bytes)
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
  // The pool the tensor data is read into (it must outlive the Model); when
  // null, host memory the Model owns.
  Pool* pool = nullptr;
  // Called with the fraction of the tensor data read (0..1) between reads.
  std::function<void(double)> progress;
};

// What loading a model file will allocate, known from its header alone
// (read in constant memory), so a caller can count it before loading.
struct LoadEstimate {
  uint64_t weight_bytes = 0;  // pool memory for the tensor data, at most
  uint64_t host_bytes = 0;    // host memory for the parsed header and the tokenizer, at most
};

class Model {
 public:
  // Throws halo::Error: Io (cannot open or read), BadModel (malformed GGUF,
  // unknown architecture or tensor type, missing tensors: all listed; the
  // file ending early), NoMemory (pool).
  static std::unique_ptr<Model> load(const std::string& path, const LoadOptions& opts = {});
  // The same from a descriptor the caller opened; it is not kept (close it
  // when load returns).
  static std::unique_ptr<Model> load_fd(int fd, const std::string& name, const LoadOptions& opts = {});
  // Throws halo::Error like load for a malformed header or one over the
  // reader's limits (engine/gguf/gguf.h).
  static LoadEstimate estimate_fd(int fd, const std::string& name);
  ~Model();

  const HParams& hparams() const { return hp_; }
  const Weights& weights() const { return w_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const gguf::File& gguf() const { return *file_; }  // the header: metadata and tensor infos
  const std::vector<Tensor>& tensors() const { return tensors_; }
  // Host memory the Model holds besides the pool: the header, the tokenizer
  // (its bound), host copies of vectors.
  uint64_t host_bytes() const;

  std::string name() const;          // general.name, else the file name
  std::string quantization() const;  // dominant weight type, e.g. "Q4_0"
  uint64_t n_params() const;
  uint64_t weight_bytes() const;

 private:
  Model() = default;
  static std::unique_ptr<Model> load_from(const gguf::FileReader& reader, const LoadOptions& opts);
  void bind(const gguf::FileReader& reader, const LoadOptions& opts);
  void bind_weights();

  std::unique_ptr<gguf::File> file_;
  HParams hp_;
  std::unique_ptr<Tokenizer> tokenizer_;
  uint64_t tokenizer_bytes_ = 0;
  std::unique_ptr<Pool> own_pool_;  // when LoadOptions::pool is null; outlives allocs_
  std::vector<std::unique_ptr<PoolAllocation>> allocs_;
  std::vector<uint8_t> host_vectors_;  // vectors' bytes when the pool is not host-visible
  std::vector<Tensor> tensors_;  // stable: Weights points into it
  Weights w_;
};

}  // namespace halo
