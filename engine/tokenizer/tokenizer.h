// Tokenizers read from GGUF metadata (tokenizer.ggml.*): SentencePiece-style
// ("llama", with byte fallback) and byte-level BPE ("gpt2", pre-tokenizer by
// tokenizer.ggml.pre).
//
// Behaviour follows the reference implementation (llama.cpp), whose test
// vectors are in ../shared/fixtures/vocab:
// - tokenizer.ggml.pre: llama3/llama-v3/llama-bpe/falcon3, qwen2/
//   deepseek-r1-qwen, gpt-2/gpt2 and default. An unknown name is a BadModel
//   error listing these (a wrong split would silently change every prompt);
//   a missing key means "default", with a warning on stderr, as older files
//   lack it.
// - User-defined tokens are cut out of the text even without parse_special;
//   control and unknown tokens only with it.
// - Tokens spelling end-of-turn markers (<|eot_id|>, <|im_end|>,
//   <|endoftext|>, ...) end generation and count as control tokens.
// - Implementation: engine/tokenizer/{vocab,special,spm,bpe,pretokenize,
//   detokenizer}.cpp; VocabTokenizer in tokenizer_impl.h.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace halo {
namespace gguf { class File; }

class Tokenizer {
 public:
  // Throws halo::Error(BadModel) when the vocabulary metadata is missing,
  // inconsistent, or of an unsupported model/pre-tokenizer.
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);
  // The most host memory from_gguf allocates for a file whose metadata
  // arrays hold n_strings strings of string_bytes bytes in all (the tokens
  // and merges are among them), so a loader can count it beforehand.
  static uint64_t host_bytes_bound(uint64_t n_strings, uint64_t string_bytes);
  virtual ~Tokenizer() = default;

  // add_bos: prepend BOS when the vocabulary wants it (add_bos_default()),
  // and append EOS for the rare vocabularies with add_eos_token set.
  // parse_special: text like "<|eot_id|>" becomes the special token.
  // Any bytes are accepted; invalid UTF-8 is encoded, never an error. Thread-safe.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos,
                                      bool parse_special) const = 0;
  // A text of consecutive spans, each with its own parse_special, encoded as
  // the whole text would be (text runs across span boundaries are encoded
  // together) except that special tokens are found only inside the spans
  // that allow them. Chat prompts use it so that message text cannot spell
  // the template's markers. Never adds BOS or EOS.
  struct Span {
    std::string_view text;
    bool parse_special = false;
  };
  virtual std::vector<int32_t> encode_spans(std::span<const Span> spans) const = 0;
  // The bytes a token stands for (may be a partial UTF-8 sequence; control
  // tokens give their text only when render_special). An id outside the
  // vocabulary throws halo::Error(InvalidArgument).
  virtual std::string piece(int32_t id, bool render_special = false) const = 0;

  virtual uint32_t n_vocab() const = 0;
  virtual int32_t bos() const = 0;  // -1 when none
  virtual int32_t eos() const = 0;
  virtual int32_t eot() const = 0;
  virtual bool add_bos_default() const = 0;
  // End of generation: EOS, EOT and any other token the vocabulary marks so.
  virtual bool is_eog(int32_t id) const = 0;
  virtual std::vector<int32_t> eog_tokens() const = 0;  // every id is_eog() accepts, ascending
  virtual std::string model_name() const = 0;  // "llama" or "gpt2"
};

// Turns a stream of token ids into text, holding back bytes until they form
// complete UTF-8 characters.
class Detokenizer {
 public:
  explicit Detokenizer(const Tokenizer& tok) : tok_(tok) {}
  std::string push(int32_t id);  // text now complete (may be empty)
  std::string flush();           // whatever is left (invalid bytes as U+FFFD)

 private:
  const Tokenizer& tok_;
  std::string pending_;
};

}  // namespace halo
