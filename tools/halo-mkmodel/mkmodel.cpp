#include "tools/halo-mkmodel/mkmodel.h"

#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "engine/gguf/writer.h"
#include "tools/halo-mkmodel/builtin_vocab.h"
#include "tools/halo-mkmodel/model_spec.h"
#include "tools/halo-mkmodel/weights.h"

namespace halo::mkmodel {
namespace {

constexpr uint32_t kContextLength = 4096;
constexpr float kRopeFreqBase = 10000.0f;
constexpr float kRmsEpsilon = 1e-5f;
constexpr uint32_t kQuantizationVersion = 2;  // llama.cpp's current block layouts

// Number of tokens of a vocabulary file, which must hold a tokenizer.
uint64_t vocabulary_size(const gguf::File& vocab) {
  const gguf::Value* tokens = vocab.find("tokenizer.ggml.tokens");
  if (!tokens || tokens->type != gguf::ValueType::Array || tokens->elem_type != gguf::ValueType::String ||
      tokens->count == 0) {
    throw Error(ErrorKind::BadModel,
                vocab.path() + ": no tokenizer.ggml.tokens string array; not a vocabulary GGUF");
  }
  if (!vocab.find("tokenizer.ggml.model")) {
    throw Error(ErrorKind::BadModel, vocab.path() + ": no tokenizer.ggml.model; not a vocabulary GGUF");
  }
  return tokens->count;
}

void add_llama_metadata(gguf::Writer& w, const Options& o, const Shape& s, const WeightType& t, uint64_t n_vocab) {
  w.add_string("general.architecture", "llama");
  w.add_string("general.name", "halo-mkmodel " + std::string(s.name) + " " + std::string(t.name));
  w.add_string("general.description", "random weights (seed " + std::to_string(o.seed) + "), not a trained model");
  w.add_u32("general.file_type", t.file_type);
  w.add_u32("general.quantization_version", kQuantizationVersion);
  w.add_u32("llama.vocab_size", static_cast<uint32_t>(n_vocab));
  w.add_u32("llama.context_length", kContextLength);
  w.add_u32("llama.embedding_length", s.n_embd);
  w.add_u32("llama.block_count", s.n_layer);
  w.add_u32("llama.feed_forward_length", s.n_ff);
  w.add_u32("llama.attention.head_count", s.n_head);
  w.add_u32("llama.attention.head_count_kv", s.n_head_kv);
  w.add_f32("llama.rope.freq_base", kRopeFreqBase);
  w.add_f32("llama.attention.layer_norm_rms_epsilon", kRmsEpsilon);
  w.add_u32("llama.rope.dimension_count", s.head_dim());
}

}  // namespace

Summary write_model(const Options& o) {
  const auto shape = find_shape(o.shape);
  if (!shape) throw Error(ErrorKind::InvalidArgument, "unknown shape '" + o.shape + "' (known: " + shape_names() + ")");
  const auto type = find_weight_type(o.type);
  if (!type) throw Error(ErrorKind::InvalidArgument, "unknown type '" + o.type + "' (known: " + weight_type_names() + ")");

  Summary summary;
  gguf::Writer writer;
  if (o.vocab.empty() || o.vocab == kBuiltinVocab) {
    summary.n_vocab = add_builtin_vocabulary(writer);
    add_llama_metadata(writer, o, *shape, *type, summary.n_vocab);
  } else {
    const auto vocab = gguf::File::open(o.vocab);
    summary.n_vocab = vocabulary_size(*vocab);
    if (summary.n_vocab > UINT32_MAX) throw Error(ErrorKind::BadModel, o.vocab + ": vocabulary too large");
    add_llama_metadata(writer, o, *shape, *type, summary.n_vocab);
    writer.copy_metadata(*vocab, "tokenizer.");  // encoded now: the vocabulary file can close
  }
  for (const TensorSpec& spec : llama_tensors(*shape, *type, summary.n_vocab)) {
    writer.add_tensor(spec.name, spec.type, spec.dims, weight_producer(spec, o.seed, o.threads));
    summary.n_tensors += 1;
    summary.n_params += spec.dims[0] * spec.rows();
    summary.tensor_bytes += *row_bytes(spec.type, spec.dims[0]) * spec.rows();
  }
  writer.write(o.output);
  return summary;
}

}  // namespace halo::mkmodel
