// halo-mkmodel: the tensor plan of every shape (sizes against the figures the
// benchmarks quote), and the binary end to end on the tiny shape: valid GGUF
// that the reader loads, metadata, vocabulary, weight statistics,
// determinism, and clear errors for bad arguments.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/quant/dequant.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/fixtures.h"
#include "tests/gguf/gguf_test_util.h"
#include "tools/halo-mkmodel/model_spec.h"
#include "tools/halo-mkmodel/weights.h"

namespace halo::mkmodel {
namespace {

double plan_mib(const char* shape, const char* type, uint64_t n_vocab) {
  uint64_t bytes = 0;
  for (const TensorSpec& t : llama_tensors(*find_shape(shape), *find_weight_type(type), n_vocab))
    bytes += *row_bytes(t.type, t.dims[0]) * t.rows();
  return static_cast<double>(bytes) / (1 << 20);
}

TEST(MkmodelPlan, SizesMatchTheBenchmarkModels) {
  EXPECT_NEAR(plan_mib("1b", "q4_0", 32000), 624.0, 1.0);
  EXPECT_NEAR(plan_mib("7b", "q4_0", 32000) / 1024, 3.59, 0.01);
  EXPECT_NEAR(plan_mib("8b", "q8_0", 128256) / 1024, 7.95, 0.01);
}

// The mixtures give the sizes of the reference's files of these shapes
// (Llama 2 7B, Llama 3 8B) less their few MB of metadata: 4.08 / 4.78 /
// 5.53 GB and 4.92 / 5.73 / 6.60 GB.
TEST(MkmodelPlan, MixturesMatchTheReferenceFileSizes) {
  const double mb = 1e6 / (1 << 20);
  EXPECT_NEAR(plan_mib("7b", "q4_k_m", 32000) / mb, 4080.3, 0.5);
  EXPECT_NEAR(plan_mib("7b", "q5_k_m", 32000) / mb, 4782.4, 0.5);
  EXPECT_NEAR(plan_mib("7b", "q6_k", 32000) / mb, 5528.5, 0.5);
  EXPECT_NEAR(plan_mib("8b", "q4_k_m", 128256) / mb, 4912.9, 0.5);
  EXPECT_NEAR(plan_mib("8b", "q5_k_m", 128256) / mb, 5725.2, 0.5);
  EXPECT_NEAR(plan_mib("8b", "q6_k", 128256) / mb, 6588.2, 0.5);
}

TEST(MkmodelPlan, KQuantMediumPromotesAttnVAndFfnDownOnTheReferencesLayers) {
  const auto tensors = llama_tensors(*find_shape("8b"), *find_weight_type("q4_k_m"), 32000);
  auto type_of = [&](const std::string& name) {
    for (const auto& t : tensors)
      if (t.name == name) return t.type;
    ADD_FAILURE() << name;
    return GgmlType::F32;
  };
  EXPECT_EQ(type_of("token_embd.weight"), GgmlType::Q4_K);
  EXPECT_EQ(type_of("output.weight"), GgmlType::Q6_K);
  // 32 layers: 0-3 and 28-31, then every third from 6.
  for (uint32_t layer : {0u, 3u, 6u, 9u, 27u, 28u, 31u}) {
    EXPECT_EQ(type_of("blk." + std::to_string(layer) + ".attn_v.weight"), GgmlType::Q6_K) << layer;
    EXPECT_EQ(type_of("blk." + std::to_string(layer) + ".ffn_down.weight"), GgmlType::Q6_K) << layer;
  }
  for (uint32_t layer : {4u, 5u, 7u, 26u}) {
    EXPECT_EQ(type_of("blk." + std::to_string(layer) + ".attn_v.weight"), GgmlType::Q4_K) << layer;
    EXPECT_EQ(type_of("blk." + std::to_string(layer) + ".ffn_down.weight"), GgmlType::Q4_K) << layer;
  }
  EXPECT_EQ(type_of("blk.0.attn_q.weight"), GgmlType::Q4_K);
  EXPECT_EQ(type_of("blk.0.ffn_up.weight"), GgmlType::Q4_K);
  EXPECT_TRUE(use_more_bits(1, 16) && use_more_bits(14, 16) && use_more_bits(4, 16) && use_more_bits(7, 16));
  EXPECT_FALSE(use_more_bits(2, 16) || use_more_bits(6, 16) || use_more_bits(12, 16));
}

TEST(MkmodelPlan, Iq4XsGivesAttnVQ5_KForGroupedHeadsAndMxfp4OnlyTheFfn) {
  auto types = [](const char* shape, const char* type) {
    std::map<std::string, GgmlType> m;
    for (const auto& t : llama_tensors(*find_shape(shape), *find_weight_type(type), 32000)) m[t.name] = t.type;
    return m;
  };
  auto xs8 = types("8b", "iq4_xs"), xs7 = types("7b", "iq4_xs"), mx = types("8b", "mxfp4");
  EXPECT_EQ(xs8["blk.10.attn_v.weight"], GgmlType::Q5_K);  // 4 query heads per KV head
  EXPECT_EQ(xs7["blk.10.attn_v.weight"], GgmlType::IQ4_XS);  // multi-head
  EXPECT_EQ(xs7["blk.3.ffn_down.weight"], GgmlType::Q5_K);   // the first eighth of the layers
  EXPECT_EQ(xs7["blk.4.ffn_down.weight"], GgmlType::IQ4_XS);
  EXPECT_EQ(xs7["output.weight"], GgmlType::Q6_K);
  EXPECT_EQ(xs7["token_embd.weight"], GgmlType::IQ4_XS);
  EXPECT_EQ(mx["blk.0.ffn_gate.weight"], GgmlType::MXFP4);
  EXPECT_EQ(mx["blk.0.ffn_down.weight"], GgmlType::MXFP4);
  EXPECT_EQ(mx["blk.0.attn_q.weight"], GgmlType::Q8_0);
  EXPECT_EQ(mx["token_embd.weight"], GgmlType::Q8_0);
  EXPECT_EQ(types("8b", "bf16")["output.weight"], GgmlType::BF16);
}

TEST(MkmodelPlan, ListsLlamaTensorsWithInputFeaturesFirst) {
  const auto tensors = llama_tensors(*find_shape("8b"), *find_weight_type("q4_k"), 32000);
  ASSERT_EQ(tensors.size(), 3u + 32 * 9);
  EXPECT_EQ(tensors[0].name, "token_embd.weight");
  EXPECT_EQ(tensors[0].type, GgmlType::Q4_K);
  EXPECT_EQ(tensors[2].name, "output.weight");
  EXPECT_EQ(tensors[2].type, GgmlType::Q8_0);  // 4-bit types keep the output in q8_0
  const auto find = [&](const std::string& name) {
    for (const auto& t : tensors)
      if (t.name == name) return t;
    ADD_FAILURE() << name;
    return tensors[0];
  };
  EXPECT_EQ(find("blk.31.attn_k.weight").dims, (std::vector<uint64_t>{4096, 1024}));  // 8 KV heads x 128
  EXPECT_EQ(find("blk.0.ffn_down.weight").dims, (std::vector<uint64_t>{14336, 4096}));
  EXPECT_EQ(find("blk.0.ffn_norm.weight").type, GgmlType::F32);
  EXPECT_FALSE(find_shape("13b").has_value());
  EXPECT_EQ(find_weight_type("Q4_K")->matrices, GgmlType::Q4_K);
  EXPECT_FALSE(find_weight_type("q5_1").has_value());
  EXPECT_EQ(find_weight_type("Q4_K_M")->file_type, 15u);
}

TEST(MkmodelWeights, RowsArePseudoNormalAndIndependentOfEachOther) {
  const uint64_t seed = tensor_seed(1, "blk.0.attn_q.weight");
  EXPECT_NE(seed, tensor_seed(2, "blk.0.attn_q.weight"));
  EXPECT_NE(seed, tensor_seed(1, "blk.0.attn_k.weight"));
  std::vector<float> a(100000), b(100000);
  fill_row(seed, 0, 0.02f, a.data(), a.size());
  fill_row(seed, 1, 0.02f, b.data(), b.size());
  double sum = 0, sq = 0, dot = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sum += a[i];
    sq += a[i] * a[i];
    dot += a[i] * b[i];
  }
  const double mean = sum / a.size(), stddev = std::sqrt(sq / a.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.001);
  EXPECT_NEAR(stddev, 0.02, 0.0005);
  EXPECT_NEAR(dot / (sq), 0.0, 0.02);  // rows are uncorrelated
  std::vector<float> again(100000);
  fill_row(seed, 0, 0.02f, again.data(), again.size());
  EXPECT_EQ(a, again);
}

// Single-quotes a path for the shell command line popen runs.
std::string quoted(const std::string& path) {
  std::string out = "'";
  for (char c : path) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct RunResult {
  int exit_code;
  std::string output;
};

RunResult run_mkmodel(const std::string& args) {
  const char* exe = std::getenv("HALO_MKMODEL");
  if (!exe) throw std::runtime_error("HALO_MKMODEL is not set (meson test sets it)");
  FILE* pipe = popen((quoted(exe) + " " + args + " 2>&1").c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed");
  RunResult r{-1, ""};
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class MkmodelBinary : public ::testing::Test {
 protected:
  std::string vocab_ = quoted(test::fixture("vocab/llama-spm.gguf"));
  test::TempDir dir_;

  std::string make(const std::string& name, const std::string& type, const std::string& extra = "") {
    const std::string out = dir_.file(name);
    const auto r = run_mkmodel(quoted(out) + " --shape tiny --type " + type + " --vocab " + vocab_ + " " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return out;
  }
};

TEST_F(MkmodelBinary, TinyModelHasLlamaMetadataAndTheVocabulary) {
  const auto f = gguf::File::open(make("t.gguf", "q8_0"));
  const auto vocab = gguf::File::open(test::fixture("vocab/llama-spm.gguf"));
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_uint("llama.context_length"), 4096u);
  EXPECT_EQ(f->get_uint("llama.embedding_length"), 256u);
  EXPECT_EQ(f->get_uint("llama.block_count"), 2u);
  EXPECT_EQ(f->get_uint("llama.feed_forward_length"), 768u);
  EXPECT_EQ(f->get_uint("llama.attention.head_count"), 4u);
  EXPECT_EQ(f->get_uint("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(f->get_uint("llama.rope.dimension_count"), 64u);
  EXPECT_FLOAT_EQ(static_cast<float>(*f->get_float("llama.rope.freq_base")), 10000.0f);
  EXPECT_FLOAT_EQ(static_cast<float>(*f->get_float("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  EXPECT_EQ(f->get_uint("general.file_type"), 7u);
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->strings, vocab->find("tokenizer.ggml.tokens")->strings);
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), vocab->get_string("tokenizer.ggml.model"));
  ASSERT_EQ(f->tensors().size(), 21u);
  const gguf::TensorInfo* embd = f->tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->ne[0], 256u);
  EXPECT_EQ(embd->ne[1], 32000u);
  EXPECT_EQ(f->tensor("blk.1.attn_k.weight")->ne[1], 128u);
  EXPECT_EQ(f->tensor("blk.1.ffn_down.weight")->ne[0], 768u);
}

TEST_F(MkmodelBinary, WeightsHaveTheIntendedScaleAndNormsAreOne) {
  const auto f = gguf::File::open(make("w.gguf", "q4_k"), gguf::Contents::All);
  const gguf::TensorInfo* q = f->tensor("blk.0.attn_q.weight");
  ASSERT_EQ(q->type, GgmlType::Q4_K);
  std::vector<float> values(q->n_elements);
  dequantize_row(q->type, q->data, values.data(), static_cast<int64_t>(values.size()));
  double sq = 0;
  for (float v : values) sq += double(v) * v;
  EXPECT_NEAR(std::sqrt(sq / values.size()), 0.02, 0.002);
  const gguf::TensorInfo* norm = f->tensor("blk.1.ffn_norm.weight");
  ASSERT_EQ(norm->type, GgmlType::F32);
  for (uint64_t i = 0; i < norm->n_elements; ++i) {
    float v;
    std::memcpy(&v, norm->data + 4 * i, 4);
    ASSERT_EQ(v, 1.0f);
  }
  EXPECT_EQ(f->tensor("output.weight")->type, GgmlType::Q8_0);
  EXPECT_EQ(f->tensor("token_embd.weight")->type, GgmlType::Q4_K);
  EXPECT_EQ(f->get_uint("general.file_type"), 14u);
}

TEST_F(MkmodelBinary, NewTypesWriteTheirMixtureAtTheIntendedScale) {
  struct Case {
    const char* type;
    uint32_t file_type;
    GgmlType ffn_down1, attn_q;
  };
  for (const Case& c : {Case{"q5_k_m", 17, GgmlType::Q6_K, GgmlType::Q5_K}, Case{"q6_k", 18, GgmlType::Q6_K, GgmlType::Q6_K},
                        Case{"iq4_xs", 30, GgmlType::IQ4_XS, GgmlType::IQ4_XS},
                        Case{"mxfp4", 38, GgmlType::MXFP4, GgmlType::Q8_0}, Case{"bf16", 32, GgmlType::BF16, GgmlType::BF16}}) {
    SCOPED_TRACE(c.type);
    const auto f = gguf::File::open(make(std::string(c.type) + ".gguf", c.type, "--threads 2"), gguf::Contents::All);
    EXPECT_EQ(f->get_uint("general.file_type"), c.file_type);
    // Two layers: use_more_bits takes the last; IQ4_XS's first eighth is none.
    const gguf::TensorInfo* down = f->tensor("blk.1.ffn_down.weight");
    EXPECT_EQ(down->type, c.ffn_down1);
    const gguf::TensorInfo* q = f->tensor("blk.1.attn_q.weight");
    ASSERT_EQ(q->type, c.attn_q);
    std::vector<float> values(q->n_elements);
    dequantize_row(q->type, q->data, values.data(), static_cast<int64_t>(values.size()));
    double sq = 0;
    for (float v : values) sq += double(v) * v;
    EXPECT_NEAR(std::sqrt(sq / values.size()), 0.02, 0.002);
  }
}

TEST_F(MkmodelBinary, SameSeedGivesTheSameFileWhateverTheThreadCount) {
  const auto one = test::read_bytes(make("a.gguf", "q4_0", "--seed 5 --threads 1"));
  const auto two = test::read_bytes(make("b.gguf", "q4_0", "--seed 5 --threads 3"));
  const auto other = test::read_bytes(make("c.gguf", "q4_0", "--seed 6"));
  EXPECT_EQ(one, two);
  EXPECT_EQ(one.size(), other.size());
  EXPECT_NE(one, other);
}

TEST_F(MkmodelBinary, BadArgumentsGiveAClearErrorAndNoFile) {
  const std::string out = dir_.file("bad.gguf");
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"--shape huge --type q8_0 --vocab " + vocab_, "unknown shape 'huge' (known: tiny, 1b, 7b, 8b)"},
      {"--shape tiny --type q5_1 --vocab " + vocab_,
       "unknown type 'q5_1' (known: f16, bf16, q8_0, q6_k, q5_k_m, q4_k_m, q4_k, q4_0, iq4_xs, mxfp4)"},
      {"--shape tiny --type q8_0 --vocab " + quoted(dir_.file("missing.gguf")), "cannot open"},
      {"--shape tiny --type q8_0 --vocab " + quoted(test::fixture("quant-fixture.gguf")), "not a vocabulary GGUF"},
      {"--shape tiny --type q8_0 --vocab " + quoted(test::fixture("README.md")), "magic"},
  };
  for (const Case& c : cases) {
    const auto r = run_mkmodel(quoted(out) + " " + c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(out));
  }
}

TEST_F(MkmodelBinary, BuiltinVocabularyIsTheDefaultAndTokenizesWords) {
  const std::string out = dir_.file("builtin.gguf");
  const auto r = run_mkmodel(quoted(out) + " --shape tiny --type q8_0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto f = gguf::File::open(out);
  const auto tok = Tokenizer::from_gguf(*f);
  const auto ids = tok->encode("the quick brown fox", true, false);
  ASSERT_EQ(ids.size(), 5u);  // BOS + one token per word
  EXPECT_EQ(ids[0], tok->bos());
  std::string text;
  for (size_t i = 1; i < ids.size(); ++i) text += tok->piece(ids[i]);
  EXPECT_EQ(text, " the quick brown fox");
  // Text outside the word list falls back to characters and bytes, losing nothing.
  std::string round;
  for (int32_t id : tok->encode("zebra \xC3\xA9!", false, false)) round += tok->piece(id);
  EXPECT_EQ(round, " zebra \xC3\xA9!");
}

}  // namespace
}  // namespace halo::mkmodel
