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

Session::Session(const Model& model, Runner& runner, KvHistory* history)
    : Session(model.tokenizer(), runner, history) {}

void Session::evaluate(std::span<const int32_t> tokens, uint32_t n_past, std::vector<float>& logits) {
  if (history_) history_->tokens.resize(n_past);  // what a failed evaluation leaves is not trusted
  runner_.eval(tokens, n_past, false, logits);
  if (history_) history_->tokens.insert(history_->tokens.end(), tokens.begin(), tokens.end());
}

namespace {

enum class Flow { Continue, Stopped, Cancelled };

// The text of one output channel: bytes held until they form characters,
// text held while it may be the start of a stop string.
class TextStream {
 public:
  TextStream(const Tokenizer& tok, const std::vector<std::string>& stops, const TokenCallback& sink)
      : detok_(tok), stops_(stops), sink_(sink) {}

  // Emits the text token completes (possibly empty); at_end releases
  // everything held.
  Flow push(int32_t token, bool at_end) {
    StopMatcher::Result piece = stops_.push(detok_.push(token));
    if (at_end && !piece.stopped) {
      StopMatcher::Result tail = stops_.push(detok_.flush());
      piece.text += tail.text;
      piece.stopped = tail.stopped;
      if (!tail.stopped) piece.text += stops_.flush();
    }
    const bool accepted = emit(piece.text, token);
    return piece.stopped ? Flow::Stopped : accepted ? Flow::Continue : Flow::Cancelled;
  }

  // Releases what is held (the stream ends, or another channel begins),
  // emitting only when there is text.
  Flow finish(int32_t token) {
    StopMatcher::Result tail = stops_.push(detok_.flush());
    const std::string text = tail.stopped ? tail.text : tail.text + stops_.flush();
    const bool accepted = text.empty() || emit(text, token);
    return tail.stopped ? Flow::Stopped : accepted ? Flow::Continue : Flow::Cancelled;
  }

 private:
  bool emit(std::string_view text, int32_t token) const { return sink_ ? sink_(text, token) : true; }

  Detokenizer detok_;
  StopMatcher stops_;
  const TokenCallback& sink_;
};

}  // namespace

GenerateStats Session::generate(std::string_view prompt, const GenerateParams& params,
                                const TokenCallback& on_text) {
  bool add_bos = params.add_bos && tokenizer_.add_bos_default();
  std::vector<int32_t> tokens = tokenizer_.encode(prompt, add_bos, params.parse_special);
  return generate(tokens, params, on_text);
}

GenerateStats Session::generate(std::span<const int32_t> tokens, const GenerateParams& params,
                                const TokenCallback& on_text, const ChannelSplit* split) {
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
  if (history_) {
    // The cached beginning, less at least the last token: its logits start the answer.
    const auto cached_end =
        std::mismatch(history_->tokens.begin(), history_->tokens.end(), tokens.begin(), tokens.end() - 1).first;
    stats.cached_tokens = static_cast<uint32_t>(cached_end - history_->tokens.begin());
  }
  std::vector<float> logits;
  uint32_t n_past = stats.cached_tokens;
  auto prompt_start = Clock::now();
  std::span<const int32_t> rest = std::span(tokens).subspan(n_past);
  while (!rest.empty()) {  // only the last batch's logits are needed
    auto batch = rest.first(std::min<size_t>(rest.size(), kPromptBatch));
    evaluate(batch, n_past, logits);
    n_past += static_cast<uint32_t>(batch.size());
    rest = rest.subspan(batch.size());
  }
  stats.prompt_seconds = seconds_since(prompt_start);

  auto is_end = [&](int32_t token) {
    if (params.end_tokens.empty()) return tokenizer_.is_eog(token);
    return std::find(params.end_tokens.begin(), params.end_tokens.end(), token) != params.end_tokens.end();
  };
  const TokenCallback no_sink;
  TextStream answer(tokenizer_, params.stop, on_text);
  TextStream reasoning(tokenizer_, {}, split ? split->on_reasoning : no_sink);
  auto stream_of = [&](int32_t token) -> TextStream* {
    switch (split ? split->route(token) : TextChannel::Answer) {
      case TextChannel::Answer: return &answer;
      case TextChannel::Reasoning: return &reasoning;
      case TextChannel::Hidden: break;
    }
    return nullptr;
  };

  auto gen_start = Clock::now();
  TextStream* current = &answer;  // the stream that may hold text back
  stats.reason = StopReason::Length;
  while (stats.generated_tokens < params.max_tokens) {
    // Output rows past the vocabulary (padded output matrices) are never sampled.
    size_t n_candidates = std::min<size_t>(logits.size(), tokenizer_.n_vocab());
    int32_t token = sampler.sample(std::span<float>(logits).first(n_candidates));
    sampler.accept(token);
    if (is_end(token)) {
      stats.reason = StopReason::Stop;
      if (current) current->finish(token);  // text still held comes with the end token
      break;
    }
    ++stats.generated_tokens;
    const bool last = stats.generated_tokens >= params.max_tokens || n_past >= n_ctx;
    TextStream* target = stream_of(token);
    Flow flow = Flow::Continue;
    if (current && current != target) flow = current->finish(token);
    current = target;
    if (flow == Flow::Continue && target) flow = target->push(token, last);
    if (flow == Flow::Stopped) {
      stats.reason = StopReason::Stop;
      break;
    }
    if (flow == Flow::Cancelled && !last) {
      stats.reason = StopReason::Cancelled;
      break;
    }
    if (last) break;
    evaluate(std::span<const int32_t>(&token, 1), n_past, logits);
    ++n_past;
  }
  stats.generate_seconds = seconds_since(gen_start);
  return stats;
}

}  // namespace halo
