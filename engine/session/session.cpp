#include "engine/session/session.h"

#include <algorithm>
#include <chrono>
#include <span>

#include "engine/backend/backend.h"
#include "engine/error.h"
#include "engine/model/model.h"
#include "engine/session/stop_matcher.h"
#include "engine/tokenizer/tokenizer.h"

namespace halo {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

std::string_view stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::Stop: return "stop";
    case StopReason::Length: return "length";
    case StopReason::Cancelled: return "cancelled";
    case StopReason::Error: return "error";
  }
  return "error";
}

Session::Session(const Model& model, Runner& runner) : Session(model.tokenizer(), runner) {}

GenerateStats Session::generate(std::string_view prompt, const GenerateParams& params,
                                const TokenCallback& on_text) {
  bool add_bos = params.add_bos && tokenizer_.add_bos_default();
  std::vector<int32_t> tokens = tokenizer_.encode(prompt, add_bos, params.parse_special);
  const uint32_t n_ctx = runner_.n_ctx();
  if (tokens.empty()) throw Error(ErrorKind::InvalidArgument, "the prompt is empty");
  if (tokens.size() > n_ctx) {
    throw Error(ErrorKind::InvalidArgument, "the prompt is " + std::to_string(tokens.size()) +
                                                " tokens long but the context holds " +
                                                std::to_string(n_ctx));
  }
  Sampler sampler(params.sampling);  // validates the sampling parameters before any work
  for (int32_t t : tokens) sampler.accept(t);

  GenerateStats stats;
  stats.prompt_tokens = static_cast<uint32_t>(tokens.size());
  std::vector<float> logits;
  uint32_t n_past = 0;
  auto prompt_start = Clock::now();
  std::span<const int32_t> rest(tokens);
  while (!rest.empty()) {  // only the last batch's logits are needed
    auto batch = rest.first(std::min<size_t>(rest.size(), kPromptBatch));
    runner_.eval(batch, n_past, false, logits);
    n_past += static_cast<uint32_t>(batch.size());
    rest = rest.subspan(batch.size());
  }
  stats.prompt_seconds = seconds_since(prompt_start);

  auto emit = [&](std::string_view text, int32_t token) { return on_text ? on_text(text, token) : true; };
  auto gen_start = Clock::now();
  Detokenizer detok(tokenizer_);
  StopMatcher stops(params.stop);
  stats.reason = StopReason::Length;
  while (stats.generated_tokens < params.max_tokens) {
    // Output rows past the vocabulary (padded output matrices) are never sampled.
    size_t n_candidates = std::min<size_t>(logits.size(), tokenizer_.n_vocab());
    int32_t token = sampler.sample(std::span<float>(logits).first(n_candidates));
    sampler.accept(token);
    if (tokenizer_.is_eog(token)) {
      stats.reason = StopReason::Stop;
      StopMatcher::Result tail = stops.push(detok.flush());
      std::string text = tail.stopped ? tail.text : tail.text + stops.flush();
      if (!text.empty()) emit(text, token);
      break;
    }
    ++stats.generated_tokens;
    StopMatcher::Result piece = stops.push(detok.push(token));
    bool last = stats.generated_tokens >= params.max_tokens || n_past >= n_ctx;
    if (last && !piece.stopped) {  // release the bytes and text held back
      StopMatcher::Result tail = stops.push(detok.flush());
      piece.text += tail.text;
      piece.stopped = tail.stopped;
      if (!tail.stopped) piece.text += stops.flush();
    }
    if (piece.stopped) stats.reason = StopReason::Stop;
    if (!emit(piece.text, token) && !piece.stopped && !last) {
      stats.reason = StopReason::Cancelled;
      break;
    }
    if (piece.stopped || last) break;
    runner_.eval(std::span<const int32_t>(&token, 1), n_past, false, logits);
    ++n_past;
  }
  stats.generate_seconds = seconds_since(gen_start);
  return stats;
}

}  // namespace halo
