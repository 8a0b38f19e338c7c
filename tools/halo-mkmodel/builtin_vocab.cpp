#include "tools/halo-mkmodel/builtin_vocab.h"

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "engine/gguf/writer.h"

namespace halo::mkmodel {
namespace {

// SentencePiece token types as GGUF stores them.
constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kByte = 6;
const std::string kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's word boundary

constexpr const char* kWords[] = {
    "the", "of", "and", "to", "in", "is", "that", "it", "for", "was", "on", "are", "as", "with",
    "he", "she", "they", "we", "you", "I", "at", "be", "this", "have", "from", "or", "one",
    "had", "by", "word", "but", "not", "what", "all", "were", "when", "your", "can", "said",
    "there", "use", "an", "each", "which", "do", "how", "their", "if", "will", "up", "other",
    "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make",
    "like", "him", "into", "time", "has", "look", "two", "more", "write", "go", "see", "number",
    "no", "way", "could", "people", "my", "than", "first", "water", "been", "call", "who",
    "now", "find", "long", "down", "day", "did", "get", "come", "made", "may", "part", "model",
    "memory", "machine", "Strix", "Halo", "GPU", "hello", "world", "Once", "upon", "a",
    "story", "little", "there", "lived", "small", "quick", "brown", "fox", "jumps", "over",
    "lazy", "dog", "The", "A", "In", "It", "This", "What", "How", "Why",
};

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  std::set<std::string> seen;

  void add(const std::string& text, float score, int32_t type) {
    if (!seen.insert(text).second) return;
    tokens.push_back(text);
    scores.push_back(score);
    types.push_back(type);
  }
};

Vocab build() {
  Vocab v;
  v.add("<unk>", 0, kUnknown);
  v.add("<s>", 0, kControl);
  v.add("</s>", 0, kControl);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    v.add(name, 0, kByte);
  }
  v.add(kSpace, -1, kNormal);
  for (char c = 33; c < 127; ++c) v.add(std::string(1, c), -2, kNormal);
  // Every prefix of "▁word", so pairwise merges can reach the whole word;
  // longer pieces score higher so they win.
  for (const char* word : kWords) {
    std::string piece = kSpace;
    for (const char* p = word; *p; ++p) {
      piece += *p;
      v.add(piece, -10.0f + static_cast<float>(piece.size()), kNormal);
    }
  }
  return v;
}

}  // namespace

uint64_t add_builtin_vocabulary(gguf::Writer& w) {
  const Vocab v = build();
  w.add_string("tokenizer.ggml.model", "llama");
  w.add_string("tokenizer.ggml.pre", "default");
  w.add_string_array("tokenizer.ggml.tokens", v.tokens);
  w.add_array<float>("tokenizer.ggml.scores", v.scores);
  w.add_array<int32_t>("tokenizer.ggml.token_type", v.types);
  w.add_u32("tokenizer.ggml.unknown_token_id", 0);
  w.add_u32("tokenizer.ggml.bos_token_id", 1);
  w.add_u32("tokenizer.ggml.eos_token_id", 2);
  w.add_bool("tokenizer.ggml.add_bos_token", true);
  w.add_bool("tokenizer.ggml.add_eos_token", false);
  return v.tokens.size();
}

}  // namespace halo::mkmodel
