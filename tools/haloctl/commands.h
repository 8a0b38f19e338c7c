// The haloctl subcommands that talk to halod. Each returns an exit code
// (client.h) and prints results on stdout, errors on stderr.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/haloctl/client.h"

namespace haloctl {

struct Globals {
  bool session = false;  // use the session bus
  bool json = false;     // machine-readable output
};

struct LoadArgs {
  std::string path;
  std::string backend;                // empty: the daemon's default
  std::optional<int32_t> keep_alive;  // seconds
  bool pin = false;
  std::optional<uint32_t> context_length;
};

struct GenerateArgs {
  std::string model;
  std::string prompt;
  std::optional<uint32_t> max_tokens;
  std::optional<double> temperature, top_p, min_p, repeat_penalty;
  std::optional<uint32_t> top_k;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  bool stats = false;  // print speeds on stderr at the end
};

int cmd_status(const Globals& g);
int cmd_ps(const Globals& g);
int cmd_load(const Globals& g, const LoadArgs& a);
int cmd_unload(const Globals& g, const std::string& model);
int cmd_switch(const Globals& g, const std::string& model, const std::string& backend);
int cmd_generate(const Globals& g, const GenerateArgs& a);
// The sampling options of generate and chat as the bus takes them.
VariantMap sampling_options(const GenerateArgs& a);

struct ChatArgs {
  GenerateArgs sampling;  // model and sampling options (prompt unused)
  std::string system;     // the system message, kept across /reset
  std::string template_name;
};
// An interactive chat: one line per question, the answer streamed; Ctrl-C
// cancels the answer, Ctrl-D or /exit leaves, /reset forgets the history.
int cmd_chat(const Globals& g, const ChatArgs& a);

// "300", "5m", "2h", "1d", "-1" or "forever": seconds. Throws std::invalid_argument.
int32_t parse_duration(const std::string& text);

}  // namespace haloctl
