#include "engine/backend/runner_memory.h"

#include <algorithm>

#include "engine/gguf/gguf.h"
#include "engine/model/loader.h"

namespace halo {

namespace {
constexpr uint32_t kMaxDefaultContext = 4096;
}  // namespace

uint32_t default_context_length(const HParams& hp) {
  return std::min(hp.n_ctx_train ? hp.n_ctx_train : kMaxDefaultContext, kMaxDefaultContext);
}

uint32_t kv_element_bytes(std::string_view backend) { return backend == "cpu" ? 4 : 2; }

uint64_t kv_layer_elements(const HParams& hp, uint32_t n_ctx) {
  return uint64_t{n_ctx} * hp.n_head_kv * hp.head_dim;
}

uint64_t kv_cache_bytes(const HParams& hp, uint32_t n_ctx, uint32_t element_bytes) {
  return uint64_t{hp.n_layer} * 2 * kv_layer_elements(hp, n_ctx) * element_bytes;
}

HParams read_hparams_fd(int fd, const std::string& name) {
  auto file = gguf::File::open_fd(fd, name);
  return model_detail::read_hparams(*file);
}

}  // namespace halo
