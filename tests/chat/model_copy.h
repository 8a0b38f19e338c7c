// Copies of fixture GGUF files for chat tests: with a chat template added
// (the fixture models have none), and with some of the vocabulary's unused
// special tokens renamed to the markers of another format (gpt-oss harmony,
// GLM), so one real vocabulary can stand in for theirs.
#pragma once
#include <map>
#include <string>

#include "engine/gguf/gguf.h"
#include "engine/gguf/writer.h"

namespace halo::test {

inline void copy_gguf(const std::string& src, const std::string& dst, const std::string& chat_template,
                      const std::map<int32_t, std::string>& renamed_tokens = {}) {
  const auto in = gguf::File::open(src, gguf::Contents::All);
  gguf::Writer out(in->alignment());
  for (const auto& [key, value] : in->metadata()) {
    if (key == "tokenizer.chat_template" || key == "general.alignment") continue;
    if (key == "tokenizer.ggml.tokens" && !renamed_tokens.empty()) {
      std::vector<std::string> tokens(value.strings.begin(), value.strings.end());
      for (const auto& [id, text] : renamed_tokens) tokens.at(id) = text;
      out.add_string_array(key, tokens);
      continue;
    }
    out.add_value(key, value);
  }
  if (!chat_template.empty()) out.add_string("tokenizer.chat_template", chat_template);
  for (const gguf::TensorInfo& t : in->tensors()) {
    std::vector<uint64_t> dims(t.ne, t.ne + t.n_dims);
    out.add_tensor(t.name, t.type, dims, std::span<const uint8_t>(t.data, t.n_bytes));
  }
  out.write(dst);
}

// Unused special tokens of the llama-bpe vocabulary (llama3-bpe-q4_k_m.gguf)
// renamed to harmony's and GLM's markers.
inline std::map<int32_t, std::string> harmony_and_glm_markers() {
  return {{128002, "<|start|>"},   {128003, "<|channel|>"}, {128004, "<|message|>"},
          {128005, "<|end|>"},     {128008, "<|return|>"},  {128010, "<|call|>"},
          {128011, "<|constrain|>"}, {128012, "<|user|>"},  {128013, "<|observation|>"}};
}

}  // namespace halo::test
