// A small SentencePiece-style vocabulary built into halo-mkmodel, so a demo
// model can be made on a machine that has no GGUF file at all.
#pragma once
#include <cstdint>

namespace halo::gguf { class Writer; }

namespace halo::mkmodel {

// Writes tokenizer.ggml.* metadata for the built-in vocabulary: <unk>, <s>,
// </s>, 256 byte-fallback tokens, printable ASCII, and common English words
// with the prefixes SentencePiece merges build them from. Returns its size.
uint64_t add_builtin_vocabulary(gguf::Writer& w);

}  // namespace halo::mkmodel
