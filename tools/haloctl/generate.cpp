// haloctl generate: streams a generation's text as it arrives; Ctrl-C cancels
// the request on the daemon and waits for the stream's final line.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tools/haloctl/client.h"
#include "tools/haloctl/commands.h"
#include "tools/haloctl/stream.h"

namespace haloctl {

VariantMap sampling_options(const GenerateArgs& a) {
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

int cmd_generate(const Globals& g, const GenerateArgs& a) {
  auto bus = connect(g.session);
  std::string path = resolve_model(*bus, a.model);
  ModelProxy model(*bus, path);
  // Client-side timing for --stats: what a caller sees, D-Bus and the stream included.
  const auto t_call = std::chrono::steady_clock::now();
  auto [request_path, stream] = model.generate(a.prompt, sampling_options(a));

  catch_interrupts();
  const StreamEnd end = follow_stream(*bus, request_path, stream.get(), [&](const std::string& raw, const nlohmann::json& j) {
    if (g.json) {
      std::cout << raw << "\n" << std::flush;
    } else if (j.contains("text")) {
      std::cout << j["text"].get<std::string>() << std::flush;
    }
  });
  if (g.json && end.done) std::cout << end.done_line << "\n";
  if (!g.json) std::cout << std::endl;
  if (!end.done) {
    std::fprintf(stderr, "haloctl: the stream ended without a final line (halod stopped?)\n");
    return kGenerationFailed;
  }
  const nlohmann::json& done = *end.done;
  const std::string reason = done.value("reason", "");
  if (a.stats && !g.json) {
    using ms = std::chrono::duration<double, std::milli>;
    const double first_ms = end.first_line ? ms(*end.first_line - t_call).count() : 0.0;
    const double total_ms = ms(std::chrono::steady_clock::now() - t_call).count();
    const int generated = done.value("generated_tokens", 0);
    // Tokens after the first, over the time after the first: generation speed as received.
    const double received_tps = generated > 1 && total_ms > first_ms ? (generated - 1) / ((total_ms - first_ms) / 1000) : 0;
    std::fprintf(stderr,
                 "prompt: %d tokens, %.1f t/s; generated: %d tokens, %.1f t/s; reason: %s\n"
                 "client: first token after %.1f ms, %.1f t/s as received, %.1f ms in all\n",
                 done.value("prompt_tokens", 0), done.value("prompt_tps", 0.0), generated,
                 done.value("generate_tps", 0.0), reason.c_str(), first_ms, received_tps, total_ms);
  }
  if (reason == "error") {
    std::fprintf(stderr, "haloctl: generation failed: %s\n", done.value("error", std::string("unknown")).c_str());
    return kGenerationFailed;
  }
  if (interrupted()) return kInterrupted;
  return kOk;
}

}  // namespace haloctl
