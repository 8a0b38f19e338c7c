// Model loading: hyperparameters, tensor binding, pool copies, and the
// errors for unknown architectures and missing or malformed tensors.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "engine/backend/backend.h"
#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/pool/pool.h"
#include "tests/fixtures.h"
#include "tests/model/model_variants.h"

namespace halo {
namespace {

std::string model_path(const std::string& name) { return test::fixture("models/" + name + ".gguf"); }

// Loads path and returns the error it gives (the test fails if it loads).
Error load_error(const std::string& path) {
  try {
    Model::load(path);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << path << " loaded but should not";
  return Error(ErrorKind::Io, "");
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct ExpectedHParams {
  const char* model;
  Arch arch;
  uint32_t n_vocab;
  float rope_base, rms_eps;
  RopeLayout layout;
  bool qkv_bias, qk_norm, tied;
};

class FixtureHParams : public ::testing::TestWithParam<ExpectedHParams> {};

TEST_P(FixtureHParams, AreReadFromMetadata) {
  const ExpectedHParams& e = GetParam();
  auto m = Model::load(model_path(e.model));
  const HParams& hp = m->hparams();
  EXPECT_EQ(hp.arch, e.arch);
  EXPECT_EQ(hp.n_vocab, e.n_vocab);
  EXPECT_EQ(hp.n_ctx_train, 1024u);
  EXPECT_EQ(hp.n_embd, 256u);
  EXPECT_EQ(hp.n_layer, 2u);
  EXPECT_EQ(hp.n_head, 4u);
  EXPECT_EQ(hp.n_head_kv, 2u);
  EXPECT_EQ(hp.head_dim, 64u);
  EXPECT_EQ(hp.n_ff, 768u);
  EXPECT_EQ(hp.rope_dim, 64u);
  EXPECT_FLOAT_EQ(hp.rope_base, e.rope_base);
  EXPECT_FLOAT_EQ(hp.rms_eps, e.rms_eps);
  EXPECT_EQ(hp.rope_layout, e.layout);
  EXPECT_EQ(hp.qkv_bias, e.qkv_bias);
  EXPECT_EQ(hp.qk_norm, e.qk_norm);
  EXPECT_EQ(hp.tied_output, e.tied);

  const Weights& w = m->weights();
  const auto file = gguf::File::open(model_path(e.model), gguf::Contents::All);
  ASSERT_EQ(w.layers.size(), 2u);
  EXPECT_EQ(w.output == w.tok_embd, e.tied);
  for (const LayerWeights& l : w.layers) {
    EXPECT_EQ(l.bq != nullptr && l.bk != nullptr && l.bv != nullptr, e.qkv_bias);
    EXPECT_EQ(l.q_norm != nullptr && l.k_norm != nullptr, e.qk_norm);
    for (const Tensor* t : {l.attn_norm, l.wq, l.wk, l.wv, l.wo, l.ffn_norm, l.ffn_gate, l.ffn_up, l.ffn_down}) {
      ASSERT_NE(t, nullptr);
      ASSERT_NE(t->host, nullptr) << t->name;
      EXPECT_NE(t->alloc, nullptr) << t->name;
      EXPECT_EQ(std::memcmp(t->host, file->tensor(t->name)->data, t->n_bytes), 0) << t->name;
    }
  }
  // Every tensor of these files is a weight the model uses.
  EXPECT_EQ(m->weight_bytes(), m->gguf().tensor_bytes());
  uint64_t elements = 0;
  for (const auto& t : m->gguf().tensors()) elements += t.n_elements;
  EXPECT_EQ(m->n_params(), elements);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, FixtureHParams,
    ::testing::Values(
        ExpectedHParams{"llama-spm-q4_k_m", Arch::Llama, 32000, 10000.0f, 1e-5f, RopeLayout::Normal, false, false, false},
        ExpectedHParams{"llama3-bpe-q4_k_m", Arch::Llama, 128256, 500000.0f, 1e-5f, RopeLayout::Normal, false, false, true},
        ExpectedHParams{"qwen2-spm-q4_0", Arch::Qwen2, 32000, 1e6f, 1e-6f, RopeLayout::NeoX, true, false, false},
        ExpectedHParams{"qwen3-spm-q8_0", Arch::Qwen3, 32000, 1e6f, 1e-6f, RopeLayout::NeoX, false, true, false}));

TEST(ModelLoad, NameAndQuantizationDescribeTheModel) {
  auto qwen2 = Model::load(model_path("qwen2-spm-q4_0"));
  EXPECT_EQ(qwen2->name(), "tiny-qwen2-seed3");
  EXPECT_EQ(qwen2->quantization(), "Q4_0");
  EXPECT_EQ(Model::load(model_path("qwen3-spm-q8_0"))->quantization(), "Q8_0");
  EXPECT_EQ(Model::load(model_path("llama3-bpe-q4_k_m"))->quantization(), "Q4_K");
}

TEST(ModelLoad, FromDescriptorUsesTheGivenName) {
  const int fd = ::open(model_path("qwen3-spm-q8_0").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto m = Model::load_fd(fd, "passed-by-fd.gguf");
  ::close(fd);  // nothing refers to the descriptor after the load
  EXPECT_EQ(m->hparams().arch, Arch::Qwen3);
  EXPECT_EQ(m->name(), "tiny-qwen3-seed2");
  EXPECT_EQ(m->gguf().path(), "passed-by-fd.gguf");
}

TEST(ModelLoad, IntoPoolCopiesEveryTensorOnceWithProgress) {
  auto pool = make_host_pool(uint64_t{1} << 30);
  std::vector<double> progress;
  LoadOptions opts;
  opts.pool = pool.get();
  opts.progress = [&](double f) { progress.push_back(f); };
  auto pooled = Model::load(model_path("qwen2-spm-q4_0"), opts);
  auto owned = Model::load(model_path("qwen2-spm-q4_0"));
  const auto file = gguf::File::open(model_path("qwen2-spm-q4_0"), gguf::Contents::All);

  EXPECT_GE(pool->used(), pooled->weight_bytes());
  ASSERT_FALSE(progress.empty());
  EXPECT_DOUBLE_EQ(progress.back(), 1.0);
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));

  for (const Tensor& t : pooled->tensors()) {
    ASSERT_NE(t.alloc, nullptr) << t.name;
    EXPECT_EQ(&t.alloc->pool(), pool.get()) << t.name;
    EXPECT_EQ(t.host, static_cast<const uint8_t*>(t.alloc->host()) + t.offset) << t.name;
    EXPECT_LE(t.offset + t.n_bytes, t.alloc->size());
    EXPECT_EQ(t.offset % 16, 0u) << t.name;
    EXPECT_EQ(std::memcmp(t.host, file->tensor(t.name)->data, t.n_bytes), 0) << t.name;
  }

  // Same weights, same code: the same logits.
  auto backend = create_backend("cpu");
  std::vector<float> a, b;
  const std::vector<int32_t> tokens = {1, 15043, 3186, 29991};
  backend->attach(*pooled, {64, 2})->eval(tokens, 0, true, a);
  backend->attach(*owned, {64, 2})->eval(tokens, 0, true, b);
  EXPECT_EQ(a, b);
}

TEST(ModelLoad, PoolTooSmallIsNoMemory) {
  auto pool = make_host_pool(1 << 20);
  LoadOptions opts;
  opts.pool = pool.get();
  try {
    Model::load(model_path("qwen2-spm-q4_0"), opts);
    FAIL() << "loaded into a 1 MiB pool";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NoMemory) << e.what();
  }
}

TEST(ModelLoad, MissingFileIsIoError) {
  EXPECT_EQ(load_error("/nonexistent/model.gguf").kind(), ErrorKind::Io);
}

TEST(ModelLoad, UnknownArchitectureIsNamedWithTheSupportedOnes) {
  test::TempDir dir;
  test::ModelEdit edit;
  edit.arch = "mamba";
  write_variant(model_path("llama-spm-q4_k_m"), dir.file("mamba.gguf"), edit);
  const Error e = load_error(dir.file("mamba.gguf"));
  EXPECT_EQ(e.kind(), ErrorKind::BadModel);
  EXPECT_TRUE(contains(e.what(), "'mamba'")) << e.what();
  EXPECT_TRUE(contains(e.what(), "llama, qwen2, qwen3")) << e.what();
}

TEST(ModelLoad, EveryMissingTensorIsListedInOneError) {
  test::TempDir dir;
  test::ModelEdit edit;
  edit.drop_tensors = {"blk.0.attn_k.weight", "blk.1.ffn_up.weight", "output_norm.weight", "blk.1.attn_q.bias"};
  write_variant(model_path("qwen2-spm-q4_0"), dir.file("missing.gguf"), edit);
  const Error e = load_error(dir.file("missing.gguf"));
  EXPECT_EQ(e.kind(), ErrorKind::BadModel);
  EXPECT_TRUE(contains(e.what(), "4 missing tensors")) << e.what();
  for (const auto& name : edit.drop_tensors) EXPECT_TRUE(contains(e.what(), name)) << name << ": " << e.what();
}

TEST(ModelLoad, WrongShapesAndUnreadableTypesAreListedWithMissingTensors) {
  test::TempDir dir;
  test::ModelEdit edit;
  edit.drop_tensors = {"blk.1.attn_q_norm.weight"};
  edit.retype["blk.0.attn_q.weight"] = {GgmlType::Q8_0, {256, 192}};
  edit.retype["blk.1.ffn_norm.weight"] = {GgmlType::IQ2_XXS, {256}};
  write_variant(model_path("qwen3-spm-q8_0"), dir.file("damaged.gguf"), edit);
  const Error e = load_error(dir.file("damaged.gguf"));
  EXPECT_EQ(e.kind(), ErrorKind::BadModel);
  EXPECT_TRUE(contains(e.what(), "1 missing tensor: blk.1.attn_q_norm.weight")) << e.what();
  EXPECT_TRUE(contains(e.what(), "blk.0.attn_q.weight has shape [256, 192], expected [256, 256]")) << e.what();
  EXPECT_TRUE(contains(e.what(), "blk.1.ffn_norm.weight has unsupported type iq2_xxs")) << e.what();
}

TEST(ModelLoad, MissingHyperparametersAreNamed) {
  test::TempDir dir;
  test::ModelEdit edit;
  edit.drop_keys = {"llama.embedding_length", "llama.block_count"};
  write_variant(model_path("llama-spm-q4_k_m"), dir.file("nohp.gguf"), edit);
  const Error e = load_error(dir.file("nohp.gguf"));
  EXPECT_EQ(e.kind(), ErrorKind::BadModel);
  EXPECT_TRUE(contains(e.what(), "missing llama.embedding_length")) << e.what();
  EXPECT_TRUE(contains(e.what(), "missing llama.block_count")) << e.what();
}

// Llama 3.1 style frequency factors: all ones change nothing; others change
// every position but the first (where every angle is 0).
TEST(ModelLoad, ForgedBlockCountFailsAtOnceWithoutListingEveryBlock) {
  test::TempDir dir;
  test::ModelEdit edit;
  edit.set_u32 = {{"llama.block_count", 4000000000u}};
  test::write_variant(model_path("llama-spm-q4_k_m"), dir.file("blocks.gguf"), edit);
  try {
    Model::load(dir.file("blocks.gguf"));
    FAIL() << "loaded a model claiming 4e9 blocks";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadModel);
    EXPECT_TRUE(contains(e.what(), "block_count 4000000000 needs at least")) << e.what();
    EXPECT_LT(std::string(e.what()).size(), 1000u);
  }
}

TEST(ModelLoad, LongMissingTensorListsAreCut) {
  test::TempDir dir;
  test::ModelEdit edit;
  // 2 blocks exist; claiming 6 leaves 36 tensors missing. 40 unrelated
  // tensors keep the file plausible for 6 blocks.
  edit.set_u32 = {{"llama.block_count", 6}};
  for (int i = 0; i < 40; ++i) edit.add_f32["extra." + std::to_string(i)] = {1.0f};
  test::write_variant(model_path("llama-spm-q4_k_m"), dir.file("six.gguf"), edit);
  try {
    Model::load(dir.file("six.gguf"));
    FAIL() << "loaded a model with missing blocks";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "36 missing tensors: blk.2.")) << e.what();
    EXPECT_TRUE(contains(e.what(), " and 12 more")) << e.what();
  }
}

TEST(ModelLoad, RopeFrequencyFactorsAreBoundAndApplied) {
  test::TempDir dir;
  test::ModelEdit ones, fours;
  ones.add_f32["rope_freqs.weight"] = std::vector<float>(32, 1.0f);
  fours.add_f32["rope_freqs.weight"] = std::vector<float>(32, 4.0f);
  write_variant(model_path("llama-spm-q4_k_m"), dir.file("ones.gguf"), ones);
  write_variant(model_path("llama-spm-q4_k_m"), dir.file("fours.gguf"), fours);
  auto plain = Model::load(model_path("llama-spm-q4_k_m"));
  auto with_ones = Model::load(dir.file("ones.gguf"));
  auto with_fours = Model::load(dir.file("fours.gguf"));
  EXPECT_EQ(plain->weights().rope_freqs, nullptr);
  ASSERT_NE(with_ones->weights().rope_freqs, nullptr);
  EXPECT_EQ(with_ones->weights().rope_freqs->ne[0], 32u);

  auto backend = create_backend("cpu");
  const std::vector<int32_t> tokens = {1, 450, 4996, 17354, 1701};
  auto logits = [&](const Model& m) {
    std::vector<float> out;
    backend->attach(m, {16, 2})->eval(tokens, 0, true, out);
    return out;
  };
  const auto a = logits(*plain), b = logits(*with_ones), c = logits(*with_fours);
  EXPECT_EQ(a, b);
  const size_t n_vocab = plain->hparams().n_vocab;
  EXPECT_TRUE(std::equal(a.begin(), a.begin() + n_vocab, c.begin())) << "position 0 has no rotation";
  EXPECT_FALSE(std::equal(a.begin() + n_vocab, a.end(), c.begin() + n_vocab));
}

TEST(ModelLoad, TiedOutputWhenOutputTensorIsAbsent) {
  test::TempDir dir;
  test::ModelEdit edit;
  edit.drop_tensors = {"output.weight"};
  write_variant(model_path("qwen3-spm-q8_0"), dir.file("tied.gguf"), edit);
  auto m = Model::load(dir.file("tied.gguf"));
  EXPECT_TRUE(m->hparams().tied_output);
  EXPECT_EQ(m->weights().output, m->weights().tok_embd);
}

}  // namespace
}  // namespace halo
