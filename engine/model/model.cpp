// Model loading: GGUF -> hyperparameters -> validated weight tensors ->
// tokenizer, with tensor data either read in place from the file mapping or
// copied once into a pool allocation.
#include "engine/model/model.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <unordered_map>

#include "engine/error.h"
#include "engine/model/loader.h"
#include "engine/tokenizer/tokenizer.h"

namespace halo {
namespace {

constexpr uint64_t kPoolAlign = 256;                 // alignment of each tensor inside the pool
constexpr uint64_t kCopyChunk = uint64_t{16} << 20;  // bytes per Pool::write, between progress reports

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

Tensor make_tensor(const gguf::TensorInfo& info) {
  Tensor t;
  t.name = std::string(info.name);
  t.type = info.type;
  std::copy(info.ne, info.ne + 4, t.ne);
  t.n_bytes = info.n_bytes;
  t.host = info.data;
  return t;
}

}  // namespace

Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::string& path, const LoadOptions& opts) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = gguf::File::open(path);
  m->bind(opts);
  return m;
}

std::unique_ptr<Model> Model::load_fd(int fd, const std::string& name, const LoadOptions& opts) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = gguf::File::open_fd(fd, name);
  m->bind(opts);
  return m;
}

void Model::bind(const LoadOptions& opts) {
  hp_ = model_detail::read_hparams(*file_);
  if (const gguf::TensorInfo* embd = file_->tensor("token_embd.weight")) hp_.n_vocab = static_cast<uint32_t>(embd->ne[1]);
  const auto specs = model_detail::tensor_specs(hp_);
  const auto infos = model_detail::find_tensors(*file_, specs);

  tokenizer_ = Tokenizer::from_gguf(*file_);
  if (tokenizer_->n_vocab() > hp_.n_vocab) {
    throw Error(ErrorKind::BadModel, file_->path() + ": the vocabulary has " + std::to_string(tokenizer_->n_vocab()) +
                                         " tokens but token_embd.weight only " + std::to_string(hp_.n_vocab) + " rows");
  }

  tensors_.reserve(infos.size());  // Weights keeps pointers into tensors_: no reallocation after this
  std::unordered_map<std::string, const Tensor*> by_name;
  for (const gguf::TensorInfo* info : infos) {
    if (!info) continue;
    tensors_.push_back(make_tensor(*info));
    by_name[tensors_.back().name] = &tensors_.back();
  }
  if (opts.pool) {
    uint64_t total = 0;
    for (const Tensor& t : tensors_) total = align_up(total, kPoolAlign) + t.n_bytes;
    alloc_ = opts.pool->allocate(total, "weights of " + name());
    uint64_t offset = 0, copied = 0;
    uint8_t* base = static_cast<uint8_t*>(alloc_->host());
    for (Tensor& t : tensors_) {
      offset = align_up(offset, kPoolAlign);
      for (uint64_t done = 0; done < t.n_bytes; done += kCopyChunk) {
        const uint64_t n = std::min(kCopyChunk, t.n_bytes - done);
        opts.pool->write(*alloc_, offset + done, t.host + done, n);
        copied += n;
        if (opts.progress) opts.progress(static_cast<double>(copied) / static_cast<double>(total));
      }
      t.offset = offset;
      t.host = base ? base + offset : nullptr;
      offset += t.n_bytes;
    }
    if (opts.progress) opts.progress(1.0);
  }

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
