// Reading the tokenizer fixtures (../shared/fixtures/vocab/NAME.inp/.out) and
// opening the vocabularies they go with.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace halo::test {

struct VocabCase {
  std::string vocab;   // fixture name: llama-spm, qwen2, llama-bpe
  size_t index = 0;
  std::string text;
  std::vector<int32_t> expected;
  std::string error;   // set when the fixture files could not be read
};

// The GGUF file whose vocabulary a fixture name uses.
std::string vocab_path(const std::string& vocab);

// All cases of one fixture; one case carrying `error` if the files are missing
// or disagree in their number of cases (so the test fails rather than vanish).
std::vector<VocabCase> load_vocab_cases(const std::string& vocab);

// The tokenizer of a GGUF file, loaded once per process.
const Tokenizer& tokenizer_at(const std::string& path);
// The tokenizer of a fixture vocabulary (llama-spm, qwen2, llama-bpe).
inline const Tokenizer& fixture_tokenizer(const std::string& vocab) { return tokenizer_at(vocab_path(vocab)); }

}  // namespace halo::test
