// haloctl generate: streams a generation's text as it arrives; Ctrl-C cancels
// the request on the daemon and waits for the stream's final line.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tools/haloctl/client.h"
#include "tools/haloctl/commands.h"

namespace haloctl {
namespace {

volatile sig_atomic_t g_interrupted = 0;

void on_sigint(int) { g_interrupted = 1; }

VariantMap generate_options(const GenerateArgs& a) {
  VariantMap o;
  if (a.max_tokens) o["max_tokens"] = sdbus::Variant(*a.max_tokens);
  if (a.temperature) o["temperature"] = sdbus::Variant(*a.temperature);
  if (a.top_k) o["top_k"] = sdbus::Variant(*a.top_k);
  if (a.top_p) o["top_p"] = sdbus::Variant(*a.top_p);
  if (a.min_p) o["min_p"] = sdbus::Variant(*a.min_p);
  if (a.repeat_penalty) o["repeat_penalty"] = sdbus::Variant(*a.repeat_penalty);
  if (a.seed) o["seed"] = sdbus::Variant(*a.seed);
  if (!a.stop.empty()) o["stop"] = sdbus::Variant(a.stop);
  return o;
}

// Handles one stream line; returns the final object once it arrives.
std::optional<nlohmann::json> handle_line(const std::string& line, bool raw) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded()) {
    std::fprintf(stderr, "haloctl: unreadable stream line: %s\n", line.c_str());
    return std::nullopt;
  }
  if (raw) {
    std::cout << line << "\n" << std::flush;
  } else if (j.contains("text")) {
    std::cout << j["text"].get<std::string>() << std::flush;
  }
  if (j.value("done", false)) return j;
  return std::nullopt;
}

}  // namespace

int cmd_generate(const Globals& g, const GenerateArgs& a) {
  auto bus = connect(g.session);
  std::string path = resolve_model(*bus, a.model);
  ModelProxy model(*bus, path);
  // Client-side timing for --stats: what a caller sees, D-Bus and the stream included.
  const auto t_call = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> t_first;
  auto [request_path, stream] = model.generate(a.prompt, generate_options(a));

  struct sigaction sa{};
  sa.sa_handler = on_sigint;  // no SA_RESTART: poll() returns at once
  sigaction(SIGINT, &sa, nullptr);

  bool cancel_sent = false;
  std::string pending;
  std::optional<nlohmann::json> done;
  char buf[4096];
  while (!done) {
    if (g_interrupted && !cancel_sent) {
      cancel_sent = true;
      try {
        RequestProxy(*bus, request_path).Cancel();
      } catch (const sdbus::Error&) {
        // finished meanwhile: its last line is on the way, on purpose ignored
      }
    }
    pollfd p{stream.get(), POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = read(stream.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!t_first) t_first = std::chrono::steady_clock::now();
    pending.append(buf, static_cast<size_t>(n));
    size_t nl;
    while (!done && (nl = pending.find('\n')) != std::string::npos) {
      done = handle_line(pending.substr(0, nl), g.json);
      pending.erase(0, nl + 1);
    }
  }
  if (!g.json) std::cout << std::endl;
  if (!done) {
    std::fprintf(stderr, "haloctl: the stream ended without a final line (halod stopped?)\n");
    return kGenerationFailed;
  }
  const std::string reason = done->value("reason", "");
  if (a.stats && !g.json) {
    using ms = std::chrono::duration<double, std::milli>;
    const double first_ms = t_first ? ms(*t_first - t_call).count() : 0.0;
    const double total_ms = ms(std::chrono::steady_clock::now() - t_call).count();
    const int generated = done->value("generated_tokens", 0);
    // Tokens after the first, over the time after the first: generation speed as received.
    const double received_tps = generated > 1 && total_ms > first_ms ? (generated - 1) / ((total_ms - first_ms) / 1000) : 0;
    std::fprintf(stderr,
                 "prompt: %d tokens, %.1f t/s; generated: %d tokens, %.1f t/s; reason: %s\n"
                 "client: first token after %.1f ms, %.1f t/s as received, %.1f ms in all\n",
                 done->value("prompt_tokens", 0), done->value("prompt_tps", 0.0), generated,
                 done->value("generate_tps", 0.0), reason.c_str(), first_ms, received_tps, total_ms);
  }
  if (reason == "error") {
    std::fprintf(stderr, "haloctl: generation failed: %s\n", done->value("error", std::string("unknown")).c_str());
    return kGenerationFailed;
  }
  if (g_interrupted) return kInterrupted;
  return kOk;
}

}  // namespace haloctl
