// halo-run: one-shot generation, tokenization and logit dumps for developers,
// tests and benchmarks. Every failure is one line on stderr:
//   halo-run: error: <message>
// with exit code 1 (usage), 2 (bad model or file) or 3 (runtime or device).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "engine/error.h"
#include "tools/halo-run/modes.h"

namespace {

constexpr int kExitUsage = 1;
constexpr int kExitBadFile = 2;
constexpr int kExitRuntime = 3;

int report(const std::string& message, int code) {
  std::string one_line = message;
  for (char& c : one_line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::fprintf(stderr, "halo-run: error: %s\n", one_line.c_str());
  return code;
}

int exit_code_for(halo::ErrorKind kind) {
  switch (kind) {
    case halo::ErrorKind::InvalidArgument: return kExitUsage;
    case halo::ErrorKind::BadModel:
    case halo::ErrorKind::Io: return kExitBadFile;
    case halo::ErrorKind::NoMemory:
    case halo::ErrorKind::Device: return kExitRuntime;
  }
  return kExitRuntime;
}

void add_options(CLI::App& app, halo::run::Options& o) {
  app.add_option("-m,--model", o.model_path, "GGUF model (or vocabulary) file")->required();
  app.add_option("--backend", o.backend, "cpu, vulkan, rocm or auto")->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (0: all cores)");
  app.add_option("--ctx", o.ctx, "context length (0: model's, at most 4096)");
  app.add_flag("--no-bos", o.no_bos, "never add the BOS token");
  app.add_flag("--no-special", [&o](int64_t) { o.gen.parse_special = false; },
               "treat special-token text like <|eot_id|> as plain text");

  auto& s = o.gen.sampling;
  app.add_option("-p,--prompt", o.prompt, "prompt to generate from");
  app.add_option("-n,--max-tokens", o.gen.max_tokens, "tokens to generate")->capture_default_str();
  app.add_option("--seed", s.seed, "sampling seed (default: random)");
  app.add_option("--temp", s.temperature, "temperature (<= 0: greedy)")->capture_default_str();
  app.add_option("--top-k", s.top_k, "top-k (0: off)")->capture_default_str();
  app.add_option("--top-p", s.top_p, "top-p (1: off)")->capture_default_str();
  app.add_option("--min-p", s.min_p, "min-p (0: off)")->capture_default_str();
  app.add_option("--repeat-penalty", s.repeat_penalty, "repetition penalty (1: off)")->capture_default_str();
  app.add_option("--repeat-last-n", s.penalty_last_n, "tokens the penalties look at")->capture_default_str();
  app.add_option("--presence-penalty", s.presence_penalty, "presence penalty")->capture_default_str();
  app.add_option("--frequency-penalty", s.frequency_penalty, "frequency penalty")->capture_default_str();
  app.add_option("--stop", o.gen.stop, "stop before this text (repeatable)");

  app.add_option("--tokenize", o.tokenize_text, "print the token ids of this text and exit");
  app.add_option("--dump-logits", o.dump_path, "write the top logits of --tokens to this JSON file");
  app.add_option("--tokens", o.tokens_text, "token ids for --dump-logits, e.g. \"1 2 3\"");
  app.add_option("--top", o.top, "logits per position for --dump-logits")->capture_default_str();

  app.add_option("--render-chat", o.messages_path,
                 "print the prompt the model sees for MESSAGES.json ([{\"role\": ..., \"content\": ...}, ...])");
  app.add_flag("--chat", o.chat, "answer -p as one chat turn, rendered with the model's chat template");
  app.add_option("--system", o.system, "--chat: a system message");
  app.add_option("--chat-template", o.chat_template_path, "a chat template (.jinja) replacing the model's");
  app.add_option("--template", o.template_name, "a chat template family instead of the model's template");
  app.add_flag("--no-generation-prompt", [&o](int64_t) { o.generation_prompt = false; },
               "--render-chat: without the assistant's header at the end");
}

int dispatch(CLI::App& app, const halo::run::Options& o) {
  if (app.count("--tokenize")) {
    halo::run::tokenize(o);
    return 0;
  }
  if (app.count("--dump-logits")) {
    if (!app.count("--tokens")) throw halo::run::UsageError("--dump-logits needs --tokens \"ID ID ...\"");
    halo::run::dump_logits(o);
    return 0;
  }
  if (app.count("--render-chat")) {
    halo::run::render_chat(o);
    return 0;
  }
  if (!app.count("--prompt")) {
    throw halo::run::UsageError("nothing to do: give -p PROMPT, --tokenize, --dump-logits or --render-chat");
  }
  return o.chat ? halo::run::chat(o) : halo::run::generate(o);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"halo-run: generate text, tokenize, or dump logits with a GGUF model"};
  halo::run::Options options;
  add_options(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    return report(std::string(e.what()) + " (see --help)", kExitUsage);
  }
  try {
    return dispatch(app, options);
  } catch (const halo::run::UsageError& e) {
    return report(e.what(), kExitUsage);
  } catch (const halo::Error& e) {
    return report(e.what(), exit_code_for(e.kind()));
  } catch (const std::bad_alloc&) {
    return report("out of memory", kExitRuntime);
  } catch (const std::exception& e) {
    return report(e.what(), kExitRuntime);
  }
}
