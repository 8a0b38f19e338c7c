// The three things halo-run does: tokenize text, generate from a prompt, and
// dump the top logits of a token sequence. Each throws halo::Error (or
// UsageError) on failure; main.cpp turns that into one error line.
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
};

// Prints the token ids of opts.tokenize_text on one line (vocabulary only).
void tokenize(const Options& opts);
// Streams generated text to stdout, speeds to stderr. Returns the exit code.
int generate(const Options& opts);
// Evaluates opts.tokens_text in one context and writes the top logits as JSON.
void dump_logits(const Options& opts);

// "1 2 3" -> {1, 2, 3}; throws UsageError on anything else.
std::vector<int32_t> parse_token_list(const std::string& text);

}  // namespace halo::run
