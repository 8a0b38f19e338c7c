// The vocabulary as the GGUF metadata (tokenizer.ggml.*) describes it, read
// and validated once; the encoders index it at load.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/tokenizer/flat_table.h"
#include <utility>
#include <vector>

namespace halo {
namespace gguf { class File; }

namespace tok {

// tokenizer.ggml.token_type values (GGUF's numbering).
enum class TokenAttr : uint8_t {
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

enum class VocabKind { Spm, Bpe };

struct Vocab {
  VocabKind kind = VocabKind::Spm;
  std::string pre;  // tokenizer.ggml.pre (BPE only; "default" when absent)
  std::vector<std::string> texts;
  std::vector<float> scores;     // SentencePiece merge priority (0 when absent)
  std::vector<TokenAttr> attrs;
  // BPE merges by rank, each "LEFT RIGHT" split at merge_split(); kept whole
  // to spare a quarter-million small allocations on large vocabularies.
  std::vector<std::string> merges;
  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, pad = -1;  // -1: none
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = true;  // SentencePiece: prepend " " to the text
};

// Reads tokenizer.ggml.* from a GGUF file. Throws halo::Error(BadModel)
// naming the key when metadata is missing, of the wrong type or inconsistent.
Vocab read_vocab(const gguf::File& file);

// Where a merge's two parts are separated: the first space after its first
// byte (a part may itself start with a space), or npos.
size_t merge_split(std::string_view merge);

// Pre-tokenizers of the Llama 3 family (BOS on by default, whole-word tokens).
bool is_llama3_pre(std::string_view pre);

// Text → id lookup; views point into Vocab::texts, which must outlive it.
// A text that occurs twice maps to its last id, as in the reference.
class TokenIndex {
 public:
  explicit TokenIndex(const Vocab& vocab) : by_text_(vocab.texts) {}
  int32_t find(std::string_view text) const { return by_text_.find(text); }

 private:
  TextTable by_text_;
};

}  // namespace tok
}  // namespace halo
