// Pre-tokenizers of byte-level BPE vocabularies: regexes that split text into
// words before merging, chosen by tokenizer.ggml.pre. PCRE2 (UTF + UCP)
// supplies the Unicode classes \p{L}, \p{N}, \s.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace halo::tok {

class Regex;

class Pretokenizer {
 public:
  // Throws halo::Error(BadModel) for a pre-tokenizer name this build does not
  // know (the list is in the message).
  explicit Pretokenizer(std::string_view pre);
  ~Pretokenizer();
  Pretokenizer(const Pretokenizer&) = delete;
  Pretokenizer& operator=(const Pretokenizer&) = delete;

  // Splits valid UTF-8 into consecutive words covering all of text. Each
  // regex in turn splits every word of the previous pass; text between
  // matches stays a word of its own.
  std::vector<std::string_view> split(std::string_view text) const;

  // Llama 3: a word that is itself a token is taken whole, without merges.
  bool ignore_merges() const { return ignore_merges_; }

  static std::string supported_names();

 private:
  std::vector<std::unique_ptr<Regex>> regexes_;
  bool ignore_merges_ = false;
};

}  // namespace halo::tok
