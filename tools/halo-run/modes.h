// What halo-run does: tokenize text, generate from a prompt, dump the top
// logits of a token sequence, render a chat prompt and answer one chat turn.
// Each throws halo::Error (or UsageError) on failure; main.cpp turns that
// into one error line.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/session/session.h"

namespace halo::run {

// Bad command-line input that CLI11 cannot detect (e.g. --tokens "1 x").
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string model_path;
  std::string backend = "auto";
  uint32_t threads = 0;
  uint32_t ctx = 0;
  bool no_bos = false;
  // generation
  std::string prompt;
  GenerateParams gen;
  // tokenization
  std::string tokenize_text;
  // logits dump
  std::string dump_path;
  std::string tokens_text;
  uint32_t top = 8;
  // chat
  bool chat = false;               // --chat: -p is a user message
  std::string messages_path;       // --render-chat MESSAGES.json
  std::string chat_template_path;  // a .jinja file replacing the model's template
  std::string template_name;       // a family named instead
  bool generation_prompt = true;
  std::string system;              // --chat: the system message
};

// Prints the token ids of opts.tokenize_text on one line (vocabulary only).
void tokenize(const Options& opts);
// Streams generated text to stdout, speeds to stderr. Returns the exit code.
int generate(const Options& opts);
// Evaluates opts.tokens_text in one context and writes the top logits as JSON.
void dump_logits(const Options& opts);

// Prints the prompt the model would see for the messages of
// opts.messages_path, exactly (vocabulary only).
void render_chat(const Options& opts);
// Answers opts.prompt as one chat turn: the answer on stdout, the reasoning
// (gpt-oss) and speeds on stderr. Returns the exit code.
int chat(const Options& opts);

// "1 2 3" -> {1, 2, 3}; throws UsageError on anything else.
std::vector<int32_t> parse_token_list(const std::string& text);

}  // namespace halo::run
