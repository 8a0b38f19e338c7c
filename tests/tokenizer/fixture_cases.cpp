#include "tests/tokenizer/fixture_cases.h"

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "engine/gguf/gguf.h"
#include "tests/fixtures.h"

namespace halo::test {
namespace {

constexpr std::string_view kSeparator = "\n__ggml_vocab_test__\n";

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return true;
}

std::vector<std::string> split_inputs(const std::string& inp) {
  std::vector<std::string> cases;
  size_t begin = 0;
  while (true) {
    const size_t sep = inp.find(kSeparator, begin);
    if (sep == std::string::npos) {
      // The file ends with a separator; text after the last one is a case
      // only if there is any.
      if (begin < inp.size()) cases.push_back(inp.substr(begin));
      break;
    }
    cases.push_back(inp.substr(begin, sep - begin));
    begin = sep + kSeparator.size();
  }
  return cases;
}

std::vector<std::vector<int32_t>> parse_outputs(const std::string& out) {
  std::vector<std::vector<int32_t>> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ids(line);
    std::vector<int32_t> v;
    int64_t id;
    while (ids >> id) v.push_back(static_cast<int32_t>(id));
    lines.push_back(std::move(v));
  }
  return lines;
}

}  // namespace

std::string vocab_path(const std::string& vocab) {
  if (vocab == "llama-bpe") return fixture("models/llama3-bpe-q4_k_m.gguf");
  return fixture("vocab/" + vocab + ".gguf");
}

std::vector<VocabCase> load_vocab_cases(const std::string& vocab) {
  std::string inp, out;
  const std::string base = fixture("vocab/" + vocab);
  if (!read_file(base + ".inp", inp) || !read_file(base + ".out", out)) {
    return {VocabCase{vocab, 0, "", {}, "cannot read " + base + ".inp/.out"}};
  }
  const auto inputs = split_inputs(inp);
  const auto outputs = parse_outputs(out);
  if (inputs.size() != outputs.size() || inputs.empty()) {
    return {VocabCase{vocab, 0, "", {}, base + ": " + std::to_string(inputs.size()) + " inputs but " +
                                            std::to_string(outputs.size()) + " outputs"}};
  }
  std::vector<VocabCase> cases;
  for (size_t i = 0; i < inputs.size(); ++i) cases.push_back({vocab, i, inputs[i], outputs[i], ""});
  return cases;
}

const Tokenizer& tokenizer_at(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  std::lock_guard lock(mutex);
  auto& slot = loaded[path];
  if (!slot) {
    auto file = gguf::File::open(path);
    slot = Tokenizer::from_gguf(*file);
  }
  return *slot;
}

}  // namespace halo::test
