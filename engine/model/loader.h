// Internal steps of Model::load (engine/model): reading hyperparameters and
// finding/validating the weight tensors of a parsed GGUF file.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/model/hparams.h"
#include "engine/model/model.h"

namespace halo::model_detail {

// Architectures the engine runs, as general.architecture spells them.
inline constexpr const char* kSupportedArchs = "llama, qwen2, qwen3";

// Reads "<arch>.*" metadata. Throws halo::Error(BadModel) naming every
// missing or malformed key, or the unknown architecture and the supported ones.
// n_vocab is left 0: it comes from the embedding tensor.
HParams read_hparams(const gguf::File& file);

// One weight tensor the architecture needs: its GGUF name, expected shape
// (ne[0], ne[1]; 1 for vectors), and whether it may be absent.
struct TensorSpec {
  std::string name;
  uint64_t ne0, ne1;
  bool optional = false;
};

// Every tensor the forward pass reads, in a fixed order:
//   token_embd, output_norm, output (optional: tied when absent), rope_freqs
//   (optional), then per
//   layer attn_norm, q, k, v, output, [q/k/v bias], [q/k norm], ffn_norm,
//   gate, up, down.
std::vector<TensorSpec> tensor_specs(const HParams& hp);

// Checks presence, type and shape of every spec in one pass. Throws
// halo::Error(BadModel) listing every problem. Returns the file's
// TensorInfo for each spec (null for absent optional ones).
std::vector<const gguf::TensorInfo*> find_tensors(const gguf::File& file,
                                                  const std::vector<TensorSpec>& specs);

// Reads every tensor's bytes (at Tensor::file_offset) into allocations of
// pool and sets each tensor's alloc, offset and host; returns the
// allocations (weight_reader.cpp). Throws halo::Error: BadModel when the
// file ends early, NoMemory from the pool or for a tensor larger than the
// pool's largest allocation.
std::vector<std::unique_ptr<PoolAllocation>> read_weights(const gguf::FileReader& reader, std::vector<Tensor>& tensors,
                                                          Pool& pool, const std::string& what,
                                                          const std::function<void(double)>& progress);

// The most pool memory read_weights takes for tensors of these sizes.
uint64_t weight_bytes_bound(uint64_t tensor_bytes, uint64_t n_tensors);

}  // namespace halo::model_detail
