// Builds and writes a random-weight llama GGUF: metadata for the shape, the
// vocabulary copied from another GGUF, and streamed random tensors.
#pragma once
#include <cstdint>
#include <string>

namespace halo::mkmodel {

// --vocab value (or an empty one) selecting the vocabulary built into the tool.
inline constexpr const char* kBuiltinVocab = "builtin";

struct Options {
  std::string output;
  std::string shape;
  std::string type;
  std::string vocab;
  uint64_t seed = 1;
  unsigned threads = 1;
};

struct Summary {
  uint64_t n_vocab = 0;
  uint64_t n_tensors = 0;
  uint64_t tensor_bytes = 0;
  uint64_t n_params = 0;
};

// Throws halo::Error: InvalidArgument for an unknown shape or type,
// Io / BadModel for an unreadable or non-vocabulary --vocab file, Io when
// the output cannot be written.
Summary write_model(const Options& options);

}  // namespace halo::mkmodel
