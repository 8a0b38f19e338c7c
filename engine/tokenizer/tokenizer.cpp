#include <algorithm>
#include <cstdio>

#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/special.h"
#include "engine/tokenizer/tokenizer_impl.h"

namespace halo {

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
  return std::make_unique<tok::VocabTokenizer>(tok::read_vocab(file));
}

uint64_t Tokenizer::host_bytes_bound(uint64_t n_strings, uint64_t string_bytes) {
  // Per string, at most: its std::string (32 bytes, plus a heap block of
  // its length + 32 when it is long), TextTable slots (4 of 8 bytes at a
  // load factor of a quarter after rounding), MergeTable slots (4 of 16),
  // score and attribute (5), the special-token list (4). Fixed: the
  // compiled pre-tokenizer patterns and the encoders' byte tables.
  constexpr uint64_t kPerString = 32 + 32 + 32 + 64 + 5 + 4;
  constexpr uint64_t kFixed = uint64_t{1} << 20;
  return n_strings * kPerString + string_bytes + kFixed;
}

namespace tok {
namespace {

// Texts that end a turn in common chat formats. The reference treats them as
// end of generation (and as control tokens) wherever a vocabulary has them.
constexpr std::string_view kEndOfTurnTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
};
// Texts that end generation wherever they occur in a vocabulary.
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
    "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
};

}  // namespace

VocabTokenizer::VocabTokenizer(Vocab vocab) : vocab_(std::move(vocab)), index_(vocab_) {
  const size_t n = vocab_.texts.size();
  if (n == 0) throw Error(ErrorKind::BadModel, "vocabulary: no tokens");
  if (vocab_.scores.size() != n || vocab_.attrs.size() != n) {
    throw Error(ErrorKind::BadModel, "vocabulary: scores or token types do not match the token count");
  }
  for (const int32_t id : {vocab_.bos, vocab_.eos, vocab_.eot, vocab_.eom, vocab_.unk, vocab_.pad}) {
    if (id >= static_cast<int64_t>(n)) {
      throw Error(ErrorKind::BadModel, "vocabulary: special token id " + std::to_string(id) +
                                           " is outside the vocabulary of " + std::to_string(n) + " tokens");
    }
  }
  find_end_of_generation();
  specials_ = special_tokens_by_length(vocab_);
  if (vocab_.kind == VocabKind::Spm) {
    spm_ = std::make_unique<SpmEncoder>(vocab_, index_);
  } else {
    bpe_ = std::make_unique<BpeEncoder>(vocab_, index_);
  }
}

void VocabTokenizer::find_end_of_generation() {
  // End markers found by their text become control tokens even where a
  // converter said otherwise, so that plain text spelling them is not cut out.
  const auto find_marker = [&](std::string_view text) {
    const int32_t id = index_.find(text);
    if (id >= 0) vocab_.attrs[id] = TokenAttr::Control;
    return id;
  };
  // An EOT id not given by the metadata is recognised by its text.
  if (vocab_.eot < 0) {
    for (const std::string_view text : kEndOfTurnTexts) {
      if (const int32_t id = find_marker(text); id >= 0) {
        vocab_.eot = id;
        break;
      }
    }
  }
  for (const int32_t id : {vocab_.eos, vocab_.eot, vocab_.eom}) {
    if (id >= 0) eog_.insert(id);
  }
  for (const std::string_view text : kEndOfGenerationTexts) {
    if (const int32_t id = find_marker(text); id >= 0) eog_.insert(id);
  }
}

std::vector<int32_t> VocabTokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  return encode_fragments(text, split_special(text, vocab_, specials_, parse_special), add_bos);
}

std::vector<int32_t> VocabTokenizer::encode_spans(std::span<const Span> spans) const {
  std::string text;
  std::vector<Fragment> fragments;
  for (const Span& span : spans) {
    const size_t base = text.size();
    text.append(span.text);
    for (Fragment f : split_special(span.text, vocab_, specials_, span.parse_special)) {
      f.offset += base;
      Fragment* before = fragments.empty() ? nullptr : &fragments.back();
      if (f.token < 0 && before && before->token < 0 && before->offset + before->length == f.offset) {
        before->length += f.length;  // one raw run, as in the whole text
      } else {
        fragments.push_back(f);
      }
    }
  }
  return encode_fragments(text, fragments, false);
}

std::vector<int32_t> VocabTokenizer::encode_fragments(std::string_view text, const std::vector<Fragment>& fragments,
                                                      bool add_bos) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  // add_bos stands for "the special tokens the vocabulary asks for": BOS, and
  // EOS for the rare vocabularies that set add_eos_token.
  if (add_bos && add_bos_default()) out.push_back(vocab_.bos);

  bool after_special = true;  // SentencePiece prefixes a space at the start and after special tokens
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
      continue;
    }
    const std::string_view raw = text.substr(f.offset, f.length);
    if (spm_) {
      spm_->encode(raw, vocab_.add_space_prefix && after_special, out);
    } else {
      bpe_->encode(raw, out);
    }
    after_special = false;
  }

  if (add_bos && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
  return out;
}

std::vector<int32_t> VocabTokenizer::eog_tokens() const {
  std::vector<int32_t> ids(eog_.begin(), eog_.end());
  std::sort(ids.begin(), ids.end());
  return ids;
}

int VocabTokenizer::byte_of_token(int32_t id) const {
  const std::string& t = vocab_.texts[id];
  unsigned value = 0;
  if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
      std::sscanf(t.c_str() + 3, "%2x", &value) == 1) {
    return static_cast<int>(value);
  }
  if (t.size() == 1) return static_cast<uint8_t>(t[0]);
  return -1;
}

std::string VocabTokenizer::piece(int32_t id, bool render_special) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_.texts.size()) {
    throw Error(ErrorKind::InvalidArgument, "token id " + std::to_string(id) +
                                                " is outside the vocabulary of " +
                                                std::to_string(vocab_.texts.size()) + " tokens");
  }
  const std::string& text = vocab_.texts[id];
  switch (vocab_.attrs[id]) {
    case TokenAttr::Control:
    case TokenAttr::Unknown:
      return render_special ? text : std::string();
    case TokenAttr::UserDefined:
      return text;
    case TokenAttr::Normal:
      break;
    case TokenAttr::Byte:
      if (spm_) {
        const int b = byte_of_token(id);
        return b >= 0 ? std::string(1, static_cast<char>(b)) : std::string();
      }
      break;  // byte-level BPE spells bytes with stand-in characters anyway
    case TokenAttr::Unused:
    case TokenAttr::Undefined:
      return std::string();
  }
  if (bpe_) return decode_byte_level(text);
  std::string out;
  out.reserve(text.size());
  // U+2581 is SentencePiece's visible space.
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 3, "\xE2\x96\x81") == 0) {
      out.push_back(' ');
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace tok
}  // namespace halo
