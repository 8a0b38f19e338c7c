#include "tools/halo-run/modes.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/backend/backend.h"
#include "engine/chat/turn.h"
#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "tools/halo-run/chat_input.h"

namespace halo::run {
namespace {

std::atomic<bool> g_interrupted{false};

void on_sigint(int) { g_interrupted = true; }

// A backend, the model loaded for it (into its pool when it has one) and a
// runner attached to both.
struct Loaded {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::unique_ptr<Runner> runner;
};

Loaded load(const Options& opts) {
  Loaded l;
  l.backend = create_backend(opts.backend);
  LoadOptions load_opts;
  load_opts.pool = l.backend->pool();
  l.model = Model::load(opts.model_path, load_opts);
  RunnerOptions run_opts;
  run_opts.n_ctx = opts.ctx;
  run_opts.n_threads = opts.threads;
  l.runner = l.backend->attach(*l.model, run_opts);
  return l;
}

// The `top` highest logits of one row, highest first: [[id, logit], ...].
nlohmann::json top_logits(const float* row, size_t n_vocab, size_t top) {
  std::vector<int32_t> ids(n_vocab);
  for (size_t i = 0; i < n_vocab; ++i) ids[i] = static_cast<int32_t>(i);
  top = std::min(top, n_vocab);
  std::partial_sort(ids.begin(), ids.begin() + top, ids.end(), [&](int32_t a, int32_t b) {
    return row[a] > row[b] || (row[a] == row[b] && a < b);
  });
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < top; ++i) out.push_back({ids[i], row[ids[i]]});
  return out;
}

}  // namespace

std::vector<int32_t> parse_token_list(const std::string& text) {
  std::istringstream in(text);
  std::vector<int32_t> ids;
  std::string word;
  while (in >> word) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || v < 0 || v > INT32_MAX) {
      throw UsageError("--tokens: '" + word + "' is not a token id (a non-negative integer)");
    }
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) throw UsageError("--tokens: no token ids given");
  return ids;
}

void tokenize(const Options& opts) {
  auto file = gguf::File::open(opts.model_path);
  auto tokenizer = Tokenizer::from_gguf(*file);
  bool add_bos = !opts.no_bos && tokenizer->add_bos_default();
  std::vector<int32_t> ids = tokenizer->encode(opts.tokenize_text, add_bos, opts.gen.parse_special);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line += ' ';
    line += std::to_string(ids[i]);
  }
  std::printf("%s\n", line.c_str());
}

namespace {

// Printed only on success, so a failure stays a single error line.
int finish(const Loaded& l, const GenerateStats& stats) {
  std::signal(SIGINT, SIG_DFL);
  std::printf("\n");
  std::fprintf(stderr, "halo-run: %s (%s, %.1f MiB) on %s (%s), context %u\n", l.model->name().c_str(),
               l.model->quantization().c_str(), l.model->weight_bytes() / 1048576.0,
               l.backend->name().c_str(), l.backend->device_name().c_str(), l.runner->n_ctx());
  std::fprintf(stderr,
               "halo-run: prompt: %u tokens, %.2f t/s | generation: %u tokens, %.2f t/s | stop: %s\n",
               stats.prompt_tokens, stats.prompt_tps(), stats.generated_tokens, stats.generate_tps(),
               std::string(stop_reason_name(stats.reason)).c_str());
  return stats.reason == StopReason::Cancelled ? 130 : 0;
}

// Writes streamed text to out; false once Ctrl-C was pressed.
TokenCallback print_to(std::FILE* out) {
  return [out](std::string_view text, int32_t) {
    std::fwrite(text.data(), 1, text.size(), out);
    std::fflush(out);
    return !g_interrupted.load();
  };
}

}  // namespace

int generate(const Options& opts) {
  Loaded l = load(opts);
  Session session(*l.model, *l.runner);
  GenerateParams params = opts.gen;
  params.add_bos = !opts.no_bos;
  std::signal(SIGINT, on_sigint);  // Ctrl-C ends generation with the stats printed
  return finish(l, session.generate(opts.prompt, params, print_to(stdout)));
}

int chat(const Options& opts) {
  std::vector<chat::Message> messages;
  if (!opts.system.empty()) messages.push_back({"system", opts.system});
  messages.push_back({"user", opts.prompt});
  // The template first: a model without one fails before its weights load.
  auto file = gguf::File::open(opts.model_path);
  const std::string name =
      file->get_string("general.name").value_or(std::filesystem::path(opts.model_path).filename().string());
  const chat::Template tmpl = chat_template_for(opts, *file, name);
  file.reset();
  Loaded l = load(opts);
  const Tokenizer& tok = l.model->tokenizer();
  const chat::Turn turn = chat::prepare_turn(tmpl, tmpl.render(messages, chat::render_options(tok)), tok);
  Session session(*l.model, *l.runner);
  std::signal(SIGINT, on_sigint);
  return finish(l, chat::generate_turn(session, tok, turn, opts.gen, print_to(stdout), print_to(stderr)));
}

void dump_logits(const Options& opts) {
  std::vector<int32_t> tokens = parse_token_list(opts.tokens_text);
  if (opts.top == 0) throw UsageError("--top must be at least 1");
  Loaded l = load(opts);
  if (tokens.size() > l.runner->n_ctx()) {
    throw Error(ErrorKind::InvalidArgument,
                std::to_string(tokens.size()) + " tokens do not fit the context of " +
                    std::to_string(l.runner->n_ctx()) + " (raise it with --ctx)");
  }
  nlohmann::json top = nlohmann::json::array();
  std::vector<float> logits;
  for (size_t start = 0; start < tokens.size(); start += Session::kPromptBatch) {
    size_t count = std::min<size_t>(Session::kPromptBatch, tokens.size() - start);
    l.runner->eval(std::span<const int32_t>(tokens).subspan(start, count), static_cast<uint32_t>(start),
                   true, logits);
    if (logits.size() % count != 0 || logits.empty()) {
      throw Error(ErrorKind::Device, "the backend returned " + std::to_string(logits.size()) +
                                         " logits for " + std::to_string(count) + " tokens");
    }
    size_t n_vocab = logits.size() / count;
    for (size_t i = 0; i < count; ++i) top.push_back(top_logits(&logits[i * n_vocab], n_vocab, opts.top));
  }
  nlohmann::json doc = {{"tokens", tokens}, {"top", std::move(top)}};
  std::ofstream out(opts.dump_path);
  out << doc.dump() << "\n";
  out.close();
  if (!out) throw Error(ErrorKind::Io, "cannot write " + opts.dump_path);
}

}  // namespace halo::run
