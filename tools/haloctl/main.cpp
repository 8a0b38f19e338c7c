// haloctl: the command line client of halod (status, ps, load, unload,
// generate, chat, switch) and the TTM tools (ttm check|recommend|apply).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "tools/haloctl/client.h"
#include "tools/haloctl/commands.h"

#include "tools/haloctl/ttm_command.h"

namespace {

using namespace haloctl;

// `haloctl [--json] ttm ARGS...`: the TTM tool parses ARGS itself (CLI11's
// prefix_command does not pass them through a subcommand here). Returns
// nothing when the command line is not a ttm one.
std::optional<int> run_ttm_if_asked(int argc, char** argv) {
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word == "--json" || word == "--session") {
      json |= word == "--json";
      continue;
    }
    if (word != "ttm") return std::nullopt;
    std::vector<std::string> args;
    for (int k = i + 1; k < argc; ++k) {
      if (std::string(argv[k]) == "--json")
        json = true;
      else
        args.emplace_back(argv[k]);
    }
    return run_ttm_command(args, json);
  }
  return std::nullopt;
}

int dispatch(CLI::App& app, const Globals& g, const LoadArgs& load, const GenerateArgs& gen, const ChatArgs& chat,
             const std::string& model, const std::string& backend) {
  if (app.got_subcommand("status")) return cmd_status(g);
  if (app.got_subcommand("ps")) return cmd_ps(g);
  if (app.got_subcommand("load")) return cmd_load(g, load);
  if (app.got_subcommand("unload")) return cmd_unload(g, model);
  if (app.got_subcommand("switch")) return cmd_switch(g, model, backend);
  if (app.got_subcommand("generate")) return cmd_generate(g, gen);
  if (app.got_subcommand("chat")) return cmd_chat(g, chat);
  std::fputs(app.help().c_str(), stderr);
  return kUsage;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"haloctl: control halod, the local LLM service"};
  app.footer(exit_codes_help());
  app.fallthrough();  // --json and --session work before or after the subcommand
  app.require_subcommand(1);
  Globals g;
  app.add_flag("--json", g.json, "Machine-readable output (JSON)");
  app.add_flag("--session", g.session, "Talk to halod on the session bus (development)");

  app.add_subcommand("status", "Show the daemon, its backends, pool and TTM limits");
  app.add_subcommand("ps", "List the loaded models");

  LoadArgs load;
  std::string keep_alive;
  uint32_t ctx = 0;
  auto* load_cmd = app.add_subcommand("load", "Load a GGUF model (the file is opened by haloctl, as you)");
  load_cmd->add_option("PATH", load.path, "Model file")->required();
  load_cmd->add_option("--backend", load.backend, "auto, cpu, vulkan or rocm");
  load_cmd->add_option("--keep-alive", keep_alive, "How long it stays loaded when idle: 300, 5m, 2h, forever");
  load_cmd->add_option("--context", ctx, "KV cache length in tokens");
  load_cmd->add_flag("--pin", load.pin, "Never evict it to make room for another model");

  std::string model, backend;
  auto* unload_cmd = app.add_subcommand("unload", "Unload a model (by id, name, file or object path)");
  unload_cmd->add_option("MODEL", model, "Model")->required();
  auto* switch_cmd = app.add_subcommand("switch", "Move a model to another backend");
  switch_cmd->add_option("MODEL", model, "Model")->required();
  switch_cmd->add_option("BACKEND", backend, "cpu, vulkan or rocm")->required();

  GenerateArgs gen;
  auto* gen_cmd = app.add_subcommand("generate", "Generate text, streamed as it arrives (Ctrl-C cancels)");
  gen_cmd->add_option("MODEL", gen.model, "Model")->required();
  gen_cmd->add_option("PROMPT", gen.prompt, "Prompt")->required();
  gen_cmd->add_option("-n,--max-tokens", gen.max_tokens, "Most tokens to generate");
  gen_cmd->add_option("--temp", gen.temperature, "Temperature (0: greedy)");
  gen_cmd->add_option("--top-k", gen.top_k, "Top-k");
  gen_cmd->add_option("--top-p", gen.top_p, "Top-p");
  gen_cmd->add_option("--min-p", gen.min_p, "Min-p");
  gen_cmd->add_option("--repeat-penalty", gen.repeat_penalty, "Repetition penalty");
  gen_cmd->add_option("--seed", gen.seed, "Seed");
  gen_cmd->add_option("--stop", gen.stop, "Stop string (repeatable)");
  gen_cmd->add_flag("--stats", gen.stats, "Print token counts and speeds on stderr");

  ChatArgs chat;
  auto* chat_cmd = app.add_subcommand(
      "chat", "Chat with a model: a line per question, Ctrl-C cancels the answer, Ctrl-D or /exit leaves, "
              "/reset forgets the conversation");
  chat_cmd->add_option("MODEL", chat.sampling.model, "Model")->required();
  chat_cmd->add_option("--system", chat.system, "A system message opening the conversation");
  chat_cmd->add_option("--template", chat.template_name, "A chat template family instead of the model's template");
  chat_cmd->add_option("-n,--max-tokens", chat.sampling.max_tokens, "Most tokens per answer");
  chat_cmd->add_option("--temp", chat.sampling.temperature, "Temperature (0: greedy)");
  chat_cmd->add_option("--top-k", chat.sampling.top_k, "Top-k");
  chat_cmd->add_option("--top-p", chat.sampling.top_p, "Top-p");
  chat_cmd->add_option("--min-p", chat.sampling.min_p, "Min-p");
  chat_cmd->add_option("--repeat-penalty", chat.sampling.repeat_penalty, "Repetition penalty");
  chat_cmd->add_option("--seed", chat.sampling.seed, "Seed");
  chat_cmd->add_flag("--stats", chat.sampling.stats, "Print each answer's token counts and speeds on stderr");

  // Listed for --help; run_ttm_if_asked() handles it before parsing.
  app.add_subcommand("ttm", "TTM limits: check | recommend [--reserve SIZE] | apply (see haloctl ttm --help)");

  if (auto code = run_ttm_if_asked(argc, argv)) return *code;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  try {
    if (!keep_alive.empty()) load.keep_alive = parse_duration(keep_alive);
    if (ctx) load.context_length = ctx;
    return dispatch(app, g, load, gen, chat, model, backend);
  } catch (const sdbus::Error& e) {
    std::fprintf(stderr, "haloctl: %s\n", e.getMessage().c_str());
    return exit_code_for(e);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "haloctl: %s\n", e.what());
    return kUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "haloctl: %s\n", e.what());
    return kFailure;
  }
}
