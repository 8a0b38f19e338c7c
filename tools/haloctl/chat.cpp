// haloctl chat MODEL: an interactive chat with a model through halod's Chat
// method. Each line read is a question; the conversation so far goes with it,
// so the model sees the whole history rendered with its chat template. The
// answer streams as it arrives (reasoning, for models with channels, on
// stderr, dimmed on a terminal). Ctrl-C cancels the answer, not the program;
// Ctrl-D or /exit leaves; /reset starts the conversation again.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>

#include "tools/haloctl/commands.h"
#include "tools/haloctl/stream.h"

namespace haloctl {
namespace {

using ChatMessages = ModelProxy::ChatMessages;

// Lines from stdin, read so that Ctrl-C is noticed while waiting.
class LineReader {
 public:
  enum class Got { Line, End, Interrupted };

  Got next(std::string& line) {
    for (;;) {
      if (const size_t nl = buffer_.find('\n'); nl != std::string::npos) {
        line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return Got::Line;
      }
      if (eof_) {
        if (buffer_.empty()) return Got::End;
        line = std::exchange(buffer_, {});  // a last line without its newline
        return Got::Line;
      }
      if (interrupted()) {
        clear_interrupt();
        return Got::Interrupted;
      }
      pollfd p{STDIN_FILENO, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        eof_ = true;
      } else {
        buffer_.append(buf, static_cast<size_t>(n));
      }
    }
  }

 private:
  std::string buffer_;
  bool eof_ = false;
};

enum class Outcome { Answered, Cancelled, Failed };

// Sends the conversation and streams the answer; answer receives its text.
Outcome ask(sdbus::IConnection& bus, ModelProxy& model, const ChatMessages& history, const VariantMap& options,
            bool stats, std::string& answer) {
  const bool dim = isatty(STDERR_FILENO);
  auto [request, stream] = model.chat(history, options);
  bool reasoning_open = false;
  const StreamEnd end = follow_stream(bus, request, stream.get(), [&](const std::string&, const nlohmann::json& j) {
    if (j.contains("reasoning")) {
      if (dim && !reasoning_open) std::fputs("\x1b[2m", stderr);
      reasoning_open = true;
      std::fputs(j["reasoning"].get<std::string>().c_str(), stderr);
      std::fflush(stderr);
    } else if (j.contains("text")) {
      if (reasoning_open) std::fputs(dim ? "\x1b[0m\n" : "\n", stderr);
      reasoning_open = false;
      answer += j["text"].get<std::string>();
      std::cout << j["text"].get<std::string>() << std::flush;
    }
  });
  if (reasoning_open && dim) std::fputs("\x1b[0m", stderr);
  std::cout << std::endl;
  const bool was_interrupted = interrupted();
  clear_interrupt();
  if (!end.done) {
    std::fprintf(stderr, "haloctl: the stream ended without a final line (halod stopped?)\n");
    return Outcome::Failed;
  }
  const std::string reason = end.done->value("reason", "");
  if (stats)
    std::fprintf(stderr, "prompt: %d tokens, %.1f t/s; generated: %d tokens, %.1f t/s; reason: %s\n",
                 end.done->value("prompt_tokens", 0), end.done->value("prompt_tps", 0.0),
                 end.done->value("generated_tokens", 0), end.done->value("generate_tps", 0.0), reason.c_str());
  if (reason == "error") {
    std::fprintf(stderr, "haloctl: the answer failed: %s\n", end.done->value("error", std::string("unknown")).c_str());
    return Outcome::Failed;
  }
  return reason == "cancelled" || was_interrupted ? Outcome::Cancelled : Outcome::Answered;
}

}  // namespace

int cmd_chat(const Globals& g, const ChatArgs& a) {
  auto bus = connect(g.session);
  ModelProxy model(*bus, resolve_model(*bus, a.sampling.model));
  VariantMap options = sampling_options(a.sampling);
  if (!a.template_name.empty()) options["template"] = sdbus::Variant(a.template_name);
  ChatMessages history;
  if (!a.system.empty()) history.push_back({"system", a.system});
  const size_t kept_on_reset = history.size();
  const bool terminal = isatty(STDIN_FILENO);
  catch_interrupts();
  LineReader in;
  bool answered_once = false;
  for (;;) {
    if (terminal) std::cout << ">>> " << std::flush;
    std::string line;
    const LineReader::Got got = in.next(line);
    if (got == LineReader::Got::End) break;
    if (got == LineReader::Got::Interrupted) {
      std::cout << std::endl;  // Ctrl-C at the prompt: a fresh prompt
      continue;
    }
    if (line == "/exit") break;
    if (line == "/reset") {
      history.resize(kept_on_reset);
      std::fprintf(stderr, "(the conversation starts again)\n");
      continue;
    }
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    history.push_back({"user", line});
    std::string answer;
    Outcome outcome = Outcome::Failed;
    try {
      outcome = ask(*bus, model, history, options, a.sampling.stats, answer);
    } catch (const sdbus::Error& e) {
      std::fprintf(stderr, "haloctl: %s\n", e.getMessage().c_str());
      const int code = exit_code_for(e);
      // Before any answer, a refusal is the model's or the options' (no
      // template, an unknown family): every question would get it.
      if (code == kNotFound || code == kNoDaemon || code == kAccessDenied || (code == kUsage && !answered_once))
        return code;
    }
    if (outcome == Outcome::Answered) {
      history.push_back({"assistant", answer});
      answered_once = true;
    } else {
      history.pop_back();  // a question without its answer is left out of the conversation
      if (outcome == Outcome::Cancelled) std::fprintf(stderr, "[cancelled]\n");
    }
  }
  if (terminal) std::cout << std::endl;
  return kOk;
}

}  // namespace haloctl
