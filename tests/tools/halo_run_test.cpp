// Runs the built halo-run (path in $HALO_RUN): tokenization against the
// fixture vectors, the --dump-logits file against the reference logits,
// generation, and bad input (broken GGUF files, bad arguments), which must
// give one "halo-run: error:" line and a non-zero exit, never a signal.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fixtures.h"
#include "tests/tools/gguf_layout.h"
#include "tests/tools/run_process.h"

namespace halo::test {
namespace {

std::string halo_run_path() {
  const char* p = std::getenv("HALO_RUN");
  return p ? p : "";
}

ProcessResult halo_run(const std::vector<std::string>& args) { return run_process(halo_run_path(), args); }

std::vector<std::string> split(const std::string& text, const std::string& sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t at; (at = text.find(sep, start)) != std::string::npos; start = at + sep.size()) {
    parts.push_back(text.substr(start, at - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \n") - b + 1);
}

std::string ids_line(const nlohmann::json& ids) {
  std::string line;
  for (const auto& id : ids) {
    if (!line.empty()) line += ' ';
    line += std::to_string(id.get<int>());
  }
  return line;
}

void expect_one_error_line(const ProcessResult& r, const std::string& what) {
  ASSERT_TRUE(r.exited) << what << ": killed by signal " << r.signal << "; stderr: " << r.err;
  EXPECT_NE(r.exit_code, 0) << what;
  EXPECT_EQ(r.err.rfind("halo-run: error: ", 0), 0u) << what << ": stderr: " << r.err;
  ASSERT_FALSE(r.err.empty()) << what;
  EXPECT_EQ(r.err.back(), '\n') << what;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << what << ": more than one line: " << r.err;
}

class HaloRun : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(halo_run_path().empty()) << "HALO_RUN is not set"; }
};

// Every llama-spm case, and the first cases of the (slower to load) qwen2
// vocabulary: the tokenizer's own tests cover every vector in-process.
TEST_F(HaloRun, TokenizesFixtureStringsLikeTheReference) {
  for (auto [name, max_cases] : {std::pair<std::string, size_t>{"llama-spm", 1000}, {"qwen2", 8}}) {
    auto inputs = split(read_file(fixture("vocab/" + name + ".inp")), "\n__ggml_vocab_test__\n");
    auto outputs = split(read_file(fixture("vocab/" + name + ".out")), "\n");
    ASSERT_GE(outputs.size(), inputs.size()) << name;
    for (size_t i = 0; i < std::min(inputs.size(), max_cases); ++i) {
      if (i + 1 == inputs.size() && inputs[i].empty()) break;  // the file ends with a separator
      ProcessResult r = halo_run({"-m", fixture("vocab/" + name + ".gguf"), "--tokenize", inputs[i],
                                  "--no-bos", "--no-special"});
      ASSERT_TRUE(r.exited && r.exit_code == 0) << name << " case " << i << ": " << r.err;
      EXPECT_EQ(trim(r.out), trim(outputs[i])) << name << " case " << i << ": '" << inputs[i] << "'";
    }
  }
}

TEST_F(HaloRun, TokenizeAddsBosAsTheModelMetadataSays) {
  for (std::string model : {"llama-spm-q4_k_m", "llama3-bpe-q4_k_m"}) {
    auto ref = nlohmann::json::parse(read_file(fixture("refs/" + model + ".exact.json")));
    for (const auto& c : ref["cases"]) {
      ProcessResult r = halo_run({"-m", fixture("models/" + model + ".gguf"), "--tokenize",
                                  c["prompt"].get<std::string>()});
      ASSERT_TRUE(r.exited && r.exit_code == 0) << r.err;
      EXPECT_EQ(trim(r.out), ids_line(c["prompt_tokens"])) << model;
    }
  }
}

// Teacher forcing through --dump-logits: the output has one row of `top`
// pairs per token, highest first, and agrees with the exact reference.
TEST_F(HaloRun, DumpLogitsWritesTopPairsPerPositionMatchingTheReference) {
  auto ref = nlohmann::json::parse(read_file(fixture("refs/llama-spm-q4_k_m.exact.json")));
  const auto& c = ref["cases"][0];
  TempDir dir;
  std::string out = dir.file("logits.json");
  ProcessResult r = halo_run({"-m", fixture("models/llama-spm-q4_k_m.gguf"), "--backend", "cpu",
                              "--dump-logits", out, "--tokens", ids_line(c["prompt_tokens"]), "--top", "8"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.err;
  auto doc = nlohmann::json::parse(read_file(out));
  ASSERT_EQ(doc["tokens"], c["prompt_tokens"]);
  ASSERT_EQ(doc["top"].size(), c["prompt_tokens"].size());
  for (size_t pos = 0; pos < doc["top"].size(); ++pos) {
    const auto& mine = doc["top"][pos];
    const auto& theirs = c["prompt_top8"][pos];
    ASSERT_EQ(mine.size(), 8u);
    for (size_t k = 1; k < mine.size(); ++k) {
      EXPECT_GE(mine[k - 1][1].get<double>(), mine[k][1].get<double>()) << "pos " << pos;
    }
    for (const auto& pair : theirs) {  // every reference id that is also in my top 8
      for (const auto& m : mine) {
        if (m[0] != pair[0]) continue;
        double want = pair[1].get<double>();
        EXPECT_NEAR(m[1].get<double>(), want, 0.005 * std::fabs(want) + 0.05) << "pos " << pos;
      }
    }
    if (theirs[0][1].get<double>() - theirs[1][1].get<double>() > 2.0) {
      EXPECT_EQ(mine[0][0], theirs[0][0]) << "pos " << pos;
    }
  }
}

TEST_F(HaloRun, GeneratesTheSameTextForTheSameSeedAndPrintsSpeeds) {
  std::vector<std::string> args = {"-m", fixture("models/llama-spm-q4_k_m.gguf"), "--backend", "cpu",
                                   "-p", "The capital of France is", "-n", "12", "--seed", "7",
                                   "--temp", "0.9", "--threads", "1"};
  ProcessResult a = halo_run(args);
  ProcessResult b = halo_run(args);
  ASSERT_TRUE(a.exited && a.exit_code == 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.err.find("t/s"), std::string::npos) << a.err;
  EXPECT_NE(a.err.find("generation: "), std::string::npos) << a.err;
}

TEST_F(HaloRun, StopStringEndsGreedyGenerationJustBeforeIt) {
  std::vector<std::string> args = {"-m", fixture("models/llama-spm-q4_k_m.gguf"), "--backend", "cpu",
                                   "-p", "The capital of France is", "-n", "16", "--temp", "0"};
  ProcessResult full = halo_run(args);
  ASSERT_TRUE(full.exited && full.exit_code == 0) << full.err;
  ASSERT_FALSE(full.out.empty());
  std::string text = full.out.substr(0, full.out.size() - 1);  // halo-run ends with a newline
  if (text.size() < 8) GTEST_SKIP() << "greedy text too short to cut: '" << text << "'";
  std::string stop = text.substr(text.size() / 2, 3);
  args.insert(args.end(), {"--stop", stop});
  ProcessResult cut = halo_run(args);
  ASSERT_TRUE(cut.exited && cut.exit_code == 0) << cut.err;
  EXPECT_EQ(cut.out, text.substr(0, text.find(stop)) + "\n") << "stop '" << stop << "' in '" << text << "'";
  EXPECT_NE(cut.err.find("stop: stop"), std::string::npos) << cut.err;
}

TEST_F(HaloRun, MissingFileIsOneErrorLine) {
  ProcessResult r = halo_run({"-m", "/nonexistent/model.gguf", "-p", "hi", "--backend", "cpu"});
  expect_one_error_line(r, "missing file");
  ProcessResult t = halo_run({"-m", "/nonexistent/model.gguf", "--tokenize", "hi"});
  expect_one_error_line(t, "missing file, --tokenize");
}

TEST_F(HaloRun, BadArgumentsAreOneErrorLineWithExitCodeOne) {
  std::string model = fixture("models/llama-spm-q4_k_m.gguf");
  std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"no model", {"-p", "hi"}},
      {"nothing to do", {"-m", model}},
      {"unknown flag", {"-m", model, "-p", "hi", "--frobnicate"}},
      {"bad number", {"-m", model, "-p", "hi", "-n", "many"}},
      {"bad token list", {"-m", model, "--dump-logits", "/tmp/x.json", "--tokens", "1 x 3"}},
      {"dump without tokens", {"-m", model, "--dump-logits", "/tmp/x.json"}},
      {"bad min-p", {"-m", model, "-p", "hi", "--min-p", "7", "--backend", "cpu"}},
  };
  for (const auto& [what, args] : cases) {
    ProcessResult r = halo_run(args);
    expect_one_error_line(r, what);
    EXPECT_EQ(r.exit_code, 1) << what;
  }
}

TEST_F(HaloRun, UnknownBackendIsOneErrorLine) {
  ProcessResult r =
      halo_run({"-m", fixture("models/llama-spm-q4_k_m.gguf"), "-p", "hi", "--backend", "abacus"});
  expect_one_error_line(r, "unknown backend");
}

TEST_F(HaloRun, TokenIdOutsideTheVocabularyIsOneErrorLine) {
  TempDir dir;
  ProcessResult r = halo_run({"-m", fixture("models/llama-spm-q4_k_m.gguf"), "--backend", "cpu",
                              "--dump-logits", dir.file("x.json"), "--tokens", "1 99999999"});
  expect_one_error_line(r, "token outside the vocabulary");
}

// Copies of a fixture model with one defect each.
class BrokenModel : public HaloRun {
 protected:
  void SetUp() override {
    HaloRun::SetUp();
    original_ = read_file(fixture("models/llama-spm-q4_k_m.gguf"));
    layout_ = walk_gguf(original_);
    ASSERT_FALSE(layout_.tensors.empty());
  }
  void expect_rejected(const std::string& bytes, const std::string& what) {
    std::string path = dir_.file(what + ".gguf");
    write_file(path, bytes);
    expect_one_error_line(halo_run({"-m", path, "-p", "hello", "-n", "2", "--backend", "cpu"}), what);
  }
  TempDir dir_;
  std::string original_;
  GgufLayout layout_;
};

TEST_F(BrokenModel, EmptyFile) { expect_rejected("", "empty"); }

TEST_F(BrokenModel, TruncatedInsideTheHeader) {
  expect_rejected(original_.substr(0, 100), "truncated-header");
}

TEST_F(BrokenModel, TruncatedInsideTheTensorInfos) {
  expect_rejected(original_.substr(0, layout_.tensor_infos_end - 10), "truncated-infos");
}

TEST_F(BrokenModel, TruncatedInsideTheTensorData) {
  expect_rejected(original_.substr(0, original_.size() / 2), "truncated-data");
}

TEST_F(BrokenModel, TensorOffsetPastTheEnd) {
  std::string bytes = original_;
  put_u64(bytes, layout_.tensors.back().offset_at, uint64_t{1} << 40);
  expect_rejected(bytes, "offset-past-end");
}

TEST_F(BrokenModel, TensorOffsetThatOverflows) {
  std::string bytes = original_;
  put_u64(bytes, layout_.tensors[0].offset_at, ~uint64_t{0} - 3);
  expect_rejected(bytes, "offset-overflow");
}

TEST_F(BrokenModel, AbsurdTensorCount) {
  std::string bytes = original_;
  put_u64(bytes, layout_.n_tensors_at, uint64_t{1} << 62);
  expect_rejected(bytes, "absurd-count");
}

TEST_F(BrokenModel, UnknownTensorType) {
  std::string bytes = original_;
  put_u32(bytes, layout_.tensors[0].type_at, 1000);
  expect_rejected(bytes, "unknown-type");
}

TEST_F(BrokenModel, NotAGgufFile) {
  expect_rejected(std::string(4096, 'x'), "not-gguf");
}

// Random byte corruption anywhere in the header (metadata, vocabulary,
// tensor infos): halo-run either still works or fails with one error line;
// it is never killed by a signal.
TEST_F(BrokenModel, RandomHeaderCorruptionNeverCrashes) {
  std::mt19937_64 rng(2024);
  std::uniform_int_distribution<uint64_t> where(0, layout_.tensor_infos_end - 1);
  std::uniform_int_distribution<int> byte(0, 255), how_many(1, 8);
  for (int round = 0; round < 24; ++round) {
    std::string bytes = original_;
    for (int n = how_many(rng); n > 0; --n) bytes[where(rng)] = static_cast<char>(byte(rng));
    std::string path = dir_.file("random.gguf");
    write_file(path, bytes);
    ProcessResult r = halo_run({"-m", path, "-p", "hello", "-n", "2", "--backend", "cpu", "--threads", "1"});
    std::string what = "round " + std::to_string(round);
    ASSERT_TRUE(r.exited) << what << ": killed by signal " << r.signal;
    if (r.exit_code != 0) expect_one_error_line(r, what);
  }
}

}  // namespace
}  // namespace halo::test
