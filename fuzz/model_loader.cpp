// Model loading on arbitrary bytes, the way halod loads a LoadModelFd
// client's file: into a host pool with a budget. A file is refused with a
// halo::Error, or it loads into a model whose name, tokenizer and weights can
// be used.
#include <cstdint>
#include <memory>

#include "engine/error.h"
#include "engine/model/model.h"
#include "engine/pool/pool.h"
#include "engine/tokenizer/tokenizer.h"
#include "fuzz/check.h"
#include "fuzz/mem_file.h"

namespace {

// Small enough that a file claiming huge tensors meets the budget, large
// enough for the tiny seed models.
constexpr uint64_t kPoolBudget = 256ull << 20;

void use(const halo::Model& m) {
  volatile uint64_t sink = m.name().size() + m.quantization().size() + m.n_params() + m.weight_bytes();
  const halo::Tokenizer& tok = m.tokenizer();
  for (int32_t id : tok.encode("Hello, world! <|eot_id|> 123", true, true)) {
    FUZZ_CHECK(id >= 0 && static_cast<uint32_t>(id) < tok.n_vocab());
    sink = sink + tok.piece(id, true).size();
  }
  const halo::Weights& w = m.weights();
  FUZZ_CHECK(w.tok_embd && w.output_norm && w.output);
  FUZZ_CHECK(w.layers.size() == m.hparams().n_layer);
  for (const halo::Tensor* t : {w.tok_embd, w.output_norm, w.output})
    if (t->host && t->n_bytes) sink = sink + t->host[0] + t->host[t->n_bytes - 1];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<halo::Pool> pool = halo::make_host_pool(kPoolBudget);
  halo::fuzz::MemFile input(data, size);
  halo::LoadOptions options;
  options.pool = pool.get();
  std::unique_ptr<halo::Model> model;
  try {
    model = halo::Model::load_fd(input.fd(), "fuzz-input.gguf", options);
  } catch (const halo::Error&) {
  }
  if (model) use(*model);  // a loaded model must not throw on ordinary use
  model.reset();
  FUZZ_CHECK(pool->used() == 0);  // nothing outlives the model
  return 0;
}
