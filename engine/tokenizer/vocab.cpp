// Reading tokenizer.ggml.* metadata. Every key is checked for presence, type
// and consistency with the token count before use.
#include "engine/tokenizer/vocab.h"

#include <cstdio>
#include <limits>

#include "engine/error.h"
#include "engine/gguf/gguf.h"

namespace halo::tok {
namespace {

using gguf::Value;
using gguf::ValueType;

[[noreturn]] void bad(const std::string& message) {
  throw Error(ErrorKind::BadModel, "vocabulary: " + message);
}

std::string type_name(const Value& v) {
  if (v.type != ValueType::Array) return std::string(gguf::value_type_name(v.type));
  return "array of " + std::string(gguf::value_type_name(v.elem_type));
}

const Value* find_array(const gguf::File& file, std::string_view key, bool want_strings) {
  const Value* v = file.find(key);
  if (!v) return nullptr;
  const bool strings = v->type == ValueType::Array && v->elem_type == ValueType::String;
  const bool numbers = v->type == ValueType::Array && v->elem_type != ValueType::String &&
                       v->elem_type != ValueType::Array;
  if (want_strings ? !strings : !numbers) {
    bad(std::string(key) + " should be an array of " + (want_strings ? "strings" : "numbers") +
        ", but is " + type_name(*v));
  }
  return v;
}

void require_count(const Value& v, std::string_view key, size_t n_tokens) {
  if (v.count != n_tokens) {
    bad(std::string(key) + " has " + std::to_string(v.count) + " entries for " +
        std::to_string(n_tokens) + " tokens");
  }
}

std::string read_model_name(const gguf::File& file) {
  const Value* v = file.find("tokenizer.ggml.model");
  if (!v) bad("tokenizer.ggml.model is missing (the file has no tokenizer)");
  if (v->type != ValueType::String) bad("tokenizer.ggml.model should be a string, but is " + type_name(*v));
  return std::string(v->str);
}

void read_tokens(const gguf::File& file, Vocab& vocab) {
  const Value* tokens = find_array(file, "tokenizer.ggml.tokens", true);
  if (!tokens) bad("tokenizer.ggml.tokens is missing");
  if (tokens->count == 0) bad("tokenizer.ggml.tokens is empty");
  if (tokens->count > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    bad("tokenizer.ggml.tokens has " + std::to_string(tokens->count) + " entries, more than token ids can hold");
  }
  const size_t n = tokens->count;
  vocab.texts.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string text(tokens->strings[i]);
    // An empty token could never be matched and would match everywhere as a
    // special token; give it a unique name instead, as the reference does.
    if (text.empty()) text = "[EMPTY_" + std::to_string(i) + "]";
    vocab.texts.push_back(std::move(text));
  }

  vocab.scores.assign(n, 0.0f);
  if (const Value* scores = find_array(file, "tokenizer.ggml.scores", false)) {
    require_count(*scores, "tokenizer.ggml.scores", n);
    for (size_t i = 0; i < n; ++i) vocab.scores[i] = static_cast<float>(scores->float_at(i));
  }

  vocab.attrs.assign(n, TokenAttr::Normal);
  if (const Value* types = find_array(file, "tokenizer.ggml.token_type", false)) {
    require_count(*types, "tokenizer.ggml.token_type", n);
    for (size_t i = 0; i < n; ++i) {
      const int64_t t = types->int_at(i);
      vocab.attrs[i] = (t >= 0 && t <= 6) ? static_cast<TokenAttr>(t) : TokenAttr::Undefined;
    }
  }
}

void read_merges(const gguf::File& file, Vocab& vocab) {
  const Value* merges = find_array(file, "tokenizer.ggml.merges", true);
  if (!merges) bad("tokenizer.ggml.merges is missing (required by the gpt2 tokenizer)");
  vocab.merges.reserve(merges->count);
  for (size_t i = 0; i < merges->count; ++i) {
    std::string_view m = merges->strings[i];
    const size_t space = merge_split(m);
    if (space == std::string_view::npos || space + 1 == m.size()) {
      bad("tokenizer.ggml.merges entry " + std::to_string(i) + " ('" + std::string(m) +
          "') is not two parts separated by a space");
    }
    vocab.merges.emplace_back(m);
  }
}

// Special token ids: absent keeps the default; 0xFFFFFFFF or -1 mean "none".
void read_token_id(const gguf::File& file, std::string_view key, size_t n_tokens, int32_t& id) {
  const Value* v = file.find(key);
  if (!v) return;
  if (!v->is_integer() || v->type == ValueType::Bool) bad(std::string(key) + " should be an integer, but is " + type_name(*v));
  if (v->i == -1 || v->u == 0xFFFFFFFFu) { id = -1; return; }
  if (v->i < 0 || v->u >= n_tokens) {
    bad(std::string(key) + " is " + std::to_string(v->i) + ", outside the vocabulary of " +
        std::to_string(n_tokens) + " tokens");
  }
  id = static_cast<int32_t>(v->u);
}

void read_flag(const gguf::File& file, std::string_view key, bool& flag) {
  const Value* v = file.find(key);
  if (!v) return;
  if (v->type != ValueType::Bool) bad(std::string(key) + " should be a bool, but is " + type_name(*v));
  flag = v->u != 0;
}

void read_pre(const gguf::File& file, Vocab& vocab) {
  const Value* v = file.find("tokenizer.ggml.pre");
  if (!v) {
    // Files converted before pre-tokenizers were recorded: GPT-2 rules, as
    // the reference does, but say so since the split may be wrong.
    std::fprintf(stderr, "halo: tokenizer.ggml.pre is missing, using the default (GPT-2) pre-tokenizer\n");
    vocab.pre = "default";
    return;
  }
  if (v->type != ValueType::String) bad("tokenizer.ggml.pre should be a string, but is " + type_name(*v));
  vocab.pre = std::string(v->str);
}

}  // namespace

size_t merge_split(std::string_view merge) {
  return merge.size() > 1 ? merge.find(' ', 1) : std::string_view::npos;
}

bool is_llama3_pre(std::string_view pre) {
  return pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3";
}

Vocab read_vocab(const gguf::File& file) {
  Vocab vocab;
  const std::string model = read_model_name(file);
  if (model == "llama") {
    vocab.kind = VocabKind::Spm;
  } else if (model == "gpt2") {
    vocab.kind = VocabKind::Bpe;
  } else {
    bad("tokenizer.ggml.model '" + model + "' is not supported (supported: llama, gpt2)");
  }
  read_tokens(file, vocab);
  const size_t n = vocab.texts.size();

  if (vocab.kind == VocabKind::Spm) {
    // SentencePiece conventions when the file does not say otherwise.
    vocab.unk = n > 0 ? 0 : -1;
    vocab.bos = n > 1 ? 1 : -1;
    vocab.eos = n > 2 ? 2 : -1;
    vocab.add_bos = true;
    vocab.add_space_prefix = true;
  } else {
    read_merges(file, vocab);
    read_pre(file, vocab);
    vocab.add_bos = is_llama3_pre(vocab.pre);
    vocab.add_space_prefix = false;
  }

  read_token_id(file, "tokenizer.ggml.bos_token_id", n, vocab.bos);
  read_token_id(file, "tokenizer.ggml.eos_token_id", n, vocab.eos);
  read_token_id(file, "tokenizer.ggml.eot_token_id", n, vocab.eot);
  read_token_id(file, "tokenizer.ggml.eom_token_id", n, vocab.eom);
  read_token_id(file, "tokenizer.ggml.unknown_token_id", n, vocab.unk);
  read_token_id(file, "tokenizer.ggml.padding_token_id", n, vocab.pad);
  read_flag(file, "tokenizer.ggml.add_bos_token", vocab.add_bos);
  read_flag(file, "tokenizer.ggml.add_eos_token", vocab.add_eos);
  read_flag(file, "tokenizer.ggml.add_space_prefix", vocab.add_space_prefix);
  return vocab;
}

}  // namespace halo::tok
