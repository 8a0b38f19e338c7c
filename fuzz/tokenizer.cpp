// Tokenizer encode and decode on the fixture vocabularies (SentencePiece
// llama-spm, byte-level BPE qwen2 and llama3), read from HALO_FIXTURES.
//
// Input: one flags byte, then the text to encode or (decode mode) token ids
// as little-endian u32. Flags: bits 0-1 the vocabulary, bit 2 add_bos, bit 3
// parse_special, bit 4 decode mode, bit 5 render_special.
// Properties: encoding gives ids inside the vocabulary; decoding them, or any
// ids, gives valid UTF-8 through the Detokenizer; an id outside the
// vocabulary is an InvalidArgument; byte-level BPE gives back the exact text
// it encoded (when no special text is parsed).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "daemon/options.h"
#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "fuzz/check.h"

namespace {

struct Vocab {
  std::unique_ptr<halo::gguf::File> file;  // the tokenizer reads its tables
  std::unique_ptr<halo::Tokenizer> tok;
};

std::vector<Vocab>& vocabs() {
  static std::vector<Vocab> v;
  return v;
}

std::string decode(const halo::Tokenizer& tok, const std::vector<int32_t>& ids, bool render_special) {
  halo::Detokenizer detok(tok);
  std::string text;
  for (int32_t id : ids) {
    if (render_special) {
      text += tok.piece(id, true);  // raw pieces: may split characters
      continue;
    }
    text += detok.push(id);
  }
  return text + detok.flush();
}

void fuzz_encode(const halo::Tokenizer& tok, std::string_view text, bool add_bos, bool parse_special) {
  const std::vector<int32_t> ids = tok.encode(text, add_bos, parse_special);
  for (int32_t id : ids) FUZZ_CHECK(id >= 0 && static_cast<uint32_t>(id) < tok.n_vocab());
  const std::string back = decode(tok, ids, false);
  FUZZ_CHECK(halod::is_valid_utf8(back));
  // Byte-level BPE loses nothing: the pieces spell the bytes it encoded.
  if (tok.model_name() == "gpt2" && !parse_special && halod::is_valid_utf8(text)) FUZZ_CHECK(back == text);
}

void fuzz_decode(const halo::Tokenizer& tok, const uint8_t* data, size_t size, bool render_special) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 4 <= size; i += 4) {
    uint32_t raw;
    std::memcpy(&raw, data + i, 4);
    const int32_t id = static_cast<int32_t>(raw);
    if (id < 0 || static_cast<uint32_t>(id) >= tok.n_vocab()) {
      try {
        tok.piece(id);
      } catch (const halo::Error& e) {
        FUZZ_CHECK(e.kind() == halo::ErrorKind::InvalidArgument);
        continue;
      }
      FUZZ_CHECK(!"an id outside the vocabulary was accepted");
    }
    ids.push_back(id);
  }
  const std::string text = decode(tok, ids, render_special);
  if (!render_special) FUZZ_CHECK(halod::is_valid_utf8(text));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("HALO_FIXTURES");
  if (!dir || !*dir) {
    std::fprintf(stderr, "fuzz-tokenizer: set HALO_FIXTURES to the fixtures folder\n");
    std::exit(2);
  }
  for (const char* name : {"vocab/llama-spm.gguf", "vocab/qwen2.gguf", "models/llama3-bpe-q4_k_m.gguf"}) {
    Vocab v;
    v.file = halo::gguf::File::open(std::string(dir) + "/" + name);
    v.tok = halo::Tokenizer::from_gguf(*v.file);
    vocabs().push_back(std::move(v));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const halo::Tokenizer& tok = *vocabs()[(flags & 3) % vocabs().size()].tok;
  if (flags & 0x10)
    fuzz_decode(tok, data + 1, size - 1, flags & 0x20);
  else
    fuzz_encode(tok, std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), flags & 4, flags & 8);
  return 0;
}
