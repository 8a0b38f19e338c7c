// Model loading: GGUF header -> hyperparameters -> validated weight tensors
// -> tokenizer, then the tensor data read once into pool allocations.
#include "engine/model/model.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <unordered_map>

#include "engine/error.h"
#include "engine/gguf/file_reader.h"
#include "engine/model/loader.h"
#include "engine/tokenizer/tokenizer.h"

namespace halo {
namespace {

Tensor make_tensor(const gguf::TensorInfo& info) {
  Tensor t;
  t.name = std::string(info.name);
  t.type = info.type;
  std::copy(info.ne, info.ne + 4, t.ne);
  t.n_bytes = info.n_bytes;
  t.file_offset = info.file_offset;
  return t;
}

// GPU kernels read weights through 16-byte vectors; tensors keep the
// file's alignment inside the pool.
constexpr uint32_t kMinAlignment = 16;

}  // namespace

Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::string& path, const LoadOptions& opts) {
  return load_from(gguf::FileReader::open(path), opts);
}

std::unique_ptr<Model> Model::load_fd(int fd, const std::string& name, const LoadOptions& opts) {
  return load_from(gguf::FileReader(fd, name), opts);
}

std::unique_ptr<Model> Model::load_from(const gguf::FileReader& reader, const LoadOptions& opts) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = gguf::File::read(reader);
  m->bind(reader, opts);
  return m;
}

LoadEstimate Model::estimate_fd(int fd, const std::string& name) {
  const gguf::HeaderSummary h = gguf::File::scan_fd(fd, name);
  LoadEstimate e;
  e.weight_bytes = model_detail::weight_bytes_bound(h.tensor_bytes, h.n_tensors);
  e.host_bytes = h.host_bytes + Tokenizer::host_bytes_bound(h.array_strings, h.array_string_bytes) +
                 h.n_tensors * sizeof(Tensor);
  return e;
}

uint64_t Model::host_bytes() const {
  return file_->host_bytes() + tokenizer_bytes_ + host_vectors_.size() + tensors_.capacity() * sizeof(Tensor);
}

void Model::bind(const gguf::FileReader& reader, const LoadOptions& opts) {
  hp_ = model_detail::read_hparams(*file_);
  if (const gguf::TensorInfo* embd = file_->tensor("token_embd.weight")) hp_.n_vocab = static_cast<uint32_t>(embd->ne[1]);
  const auto specs = model_detail::tensor_specs(hp_);
  const auto infos = model_detail::find_tensors(*file_, specs);
  if (file_->alignment() < kMinAlignment)
    throw Error(ErrorKind::BadModel, file_->path() + ": general.alignment " + std::to_string(file_->alignment()) +
                                         " is below the " + std::to_string(kMinAlignment) +
                                         " bytes the GPU kernels need for each tensor");

  tokenizer_ = Tokenizer::from_gguf(*file_);
  uint64_t strings = 0, string_bytes = 0;
  for (const auto& [key, v] : file_->metadata())
    for (std::string_view s : v.strings) ++strings, string_bytes += s.size();
  tokenizer_bytes_ = Tokenizer::host_bytes_bound(strings, string_bytes);
  if (tokenizer_->n_vocab() > hp_.n_vocab) {
    throw Error(ErrorKind::BadModel, file_->path() + ": the vocabulary has " + std::to_string(tokenizer_->n_vocab()) +
                                         " tokens but token_embd.weight only " + std::to_string(hp_.n_vocab) + " rows");
  }

  // Weights keeps pointers into tensors_: no reallocation after this.
  tensors_.reserve(std::count_if(infos.begin(), infos.end(), [](const gguf::TensorInfo* i) { return i != nullptr; }));
  for (const gguf::TensorInfo* info : infos)
    if (info) tensors_.push_back(make_tensor(*info));
  Pool* pool = opts.pool;
  if (!pool) pool = (own_pool_ = make_host_pool(UINT64_MAX)).get();
  allocs_ = model_detail::read_weights(reader, tensors_, *pool, "weights of " + name(), opts.progress);
  // Vectors (norms, biases, RoPE factors) are decoded on the host by every
  // backend: where the pool cannot be read by the host, they are read again
  // into host memory of the Model's own.
  uint64_t vector_bytes = 0;
  for (const Tensor& t : tensors_)
    if (!t.host && t.ne[1] == 1) vector_bytes += t.n_bytes;
  host_vectors_.resize(vector_bytes);
  uint64_t at = 0;
  for (Tensor& t : tensors_) {
    if (t.host || t.ne[1] != 1) continue;
    reader.read(t.file_offset, host_vectors_.data() + at, t.n_bytes, "a weight vector");
    t.host = host_vectors_.data() + at;
    at += t.n_bytes;
  }
  bind_weights();
}

void Model::bind_weights() {
  std::unordered_map<std::string, const Tensor*> by_name;
  for (const Tensor& t : tensors_) by_name[t.name] = &t;
  auto get = [&](const std::string& n) -> const Tensor* {
    auto it = by_name.find(n);
    return it == by_name.end() ? nullptr : it->second;
  };
  w_.tok_embd = get("token_embd.weight");
  w_.output_norm = get("output_norm.weight");
  w_.output = get("output.weight");
  w_.rope_freqs = get("rope_freqs.weight");
  hp_.tied_output = w_.output == nullptr;
  if (hp_.tied_output) w_.output = w_.tok_embd;
  for (uint32_t i = 0; i < hp_.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights l{};
    l.attn_norm = get(p + "attn_norm.weight");
    l.wq = get(p + "attn_q.weight");
    l.wk = get(p + "attn_k.weight");
    l.wv = get(p + "attn_v.weight");
    l.wo = get(p + "attn_output.weight");
    l.bq = get(p + "attn_q.bias");
    l.bk = get(p + "attn_k.bias");
    l.bv = get(p + "attn_v.bias");
    l.q_norm = get(p + "attn_q_norm.weight");
    l.k_norm = get(p + "attn_k_norm.weight");
    l.ffn_norm = get(p + "ffn_norm.weight");
    l.ffn_gate = get(p + "ffn_gate.weight");
    l.ffn_up = get(p + "ffn_up.weight");
    l.ffn_down = get(p + "ffn_down.weight");
    w_.layers.push_back(l);
  }
}

std::string Model::name() const {
  if (auto n = file_->get_string("general.name"); n && !n->empty()) return *n;
  const std::string& path = file_->path();
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Model::quantization() const {
  // The type holding the most elements of the weight matrices.
  std::map<GgmlType, uint64_t> elements;
  for (const Tensor& t : tensors_)
    if (t.ne[1] > 1) elements[t.type] += t.ne[0] * t.ne[1];
  if (elements.empty()) return "unknown";
  auto best = std::max_element(elements.begin(), elements.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  std::string s(type_info(best->first).name);
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

uint64_t Model::n_params() const {
  uint64_t n = 0;
  for (const Tensor& t : tensors_) n += t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3];
  return n;
}

uint64_t Model::weight_bytes() const {
  uint64_t n = 0;
  for (const Tensor& t : tensors_) n += t.n_bytes;
  return n;
}

}  // namespace halo
