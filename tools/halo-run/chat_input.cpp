#include "tools/halo-run/chat_input.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"

namespace halo::run {
namespace {

constexpr uintmax_t kLargestInput = 64u << 20;  // a messages or template file; larger is a mistake

std::string read_file(const std::string& path, const char* what) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(ErrorKind::Io, "cannot read " + std::string(what) + " " + path + ": " + ec.message());
  if (size > kLargestInput) throw UsageError(std::string(what) + " " + path + " is larger than 64 MiB");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) throw Error(ErrorKind::Io, "cannot read " + std::string(what) + " " + path);
  return text.str();
}

}  // namespace

std::vector<chat::Message> read_messages(const std::string& path) {
  const nlohmann::json doc = nlohmann::json::parse(read_file(path, "the messages file"), nullptr, false);
  if (doc.is_discarded()) throw UsageError(path + " is not JSON");
  if (!doc.is_array()) throw UsageError(path + " must hold a list of {\"role\": ..., \"content\": ...}");
  std::vector<chat::Message> messages;
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json& m = doc[i];
    const std::string where = path + ": message " + std::to_string(i);
    if (!m.is_object() || !m.contains("role") || !m.contains("content"))
      throw UsageError(where + " must be an object with \"role\" and \"content\"");
    if (!m["role"].is_string() || !m["content"].is_string())
      throw UsageError(where + ": \"role\" and \"content\" must be strings");
    messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
  }
  return messages;
}

chat::Template chat_template_for(const Options& opts, const gguf::File& file, const std::string& model_name) {
  if (!opts.chat_template_path.empty() && !opts.template_name.empty())
    throw UsageError("give --chat-template or --template, not both");
  if (!opts.chat_template_path.empty()) {
    const std::string jinja = read_file(opts.chat_template_path, "the chat template");
    try {
      return chat::Template::recognise(jinja);
    } catch (const Error& e) {
      throw Error(ErrorKind::InvalidArgument, opts.chat_template_path + ": " + e.what());
    }
  }
  return chat::model_template(file, model_name, opts.template_name);
}

void render_chat(const Options& opts) {
  const std::vector<chat::Message> messages = read_messages(opts.messages_path);
  auto file = gguf::File::open(opts.model_path);
  auto tokenizer = Tokenizer::from_gguf(*file);
  const std::string name =
      file->get_string("general.name").value_or(std::filesystem::path(opts.model_path).filename().string());
  const chat::Template tmpl = chat_template_for(opts, *file, name);
  const std::string text = tmpl.render(messages, chat::render_options(*tokenizer, opts.generation_prompt)).text();
  std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace halo::run
