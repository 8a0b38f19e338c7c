// The generation loop shared by halo-run and the daemon: tokenize, process the
// prompt in batches, sample, stream text, stop on EOS/EOT, stop strings or
// max tokens.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/sampler/sampler.h"

namespace halo {

class Model;
class Runner;
class Tokenizer;

enum class StopReason { Stop, Length, Cancelled, Error };
std::string_view stop_reason_name(StopReason r);  // "stop", "length", "cancelled", "error"

struct GenerateParams {
  SamplerParams sampling;
  uint32_t max_tokens = 128;
  std::vector<std::string> stop;  // generation ends before any of these strings
  bool add_bos = true;            // when the vocabulary wants BOS
  bool parse_special = true;      // special-token text in the prompt becomes tokens
  // When not empty, generation ends on these tokens instead of the
  // vocabulary's end-of-generation tokens (a chat template's end of turn).
  std::vector<int32_t> end_tokens;
};

struct GenerateStats {
  StopReason reason = StopReason::Stop;
  uint32_t prompt_tokens = 0;
  uint32_t cached_tokens = 0;     // of the prompt's, found in the KV cache (KvHistory) and not evaluated
  uint32_t generated_tokens = 0;  // sampled tokens, not counting the end-of-generation token
  double prompt_seconds = 0;
  double generate_seconds = 0;
  // Over the prompt tokens evaluated, not those found in the cache.
  double prompt_tps() const {
    return prompt_seconds > 0 ? (prompt_tokens - cached_tokens) / prompt_seconds : 0;
  }
  double generate_tps() const {
    return generate_seconds > 0 ? generated_tokens / generate_seconds : 0;
  }
};

// Receives each piece of text as it becomes final, with the token that
// completed it. Returning false cancels generation.
// It is called once per generated token (text may be empty while bytes or a
// possible stop string are held back). Text still held when generation ends
// on an end-of-generation token or a stop string comes in one more call with
// that token's id.
using TokenCallback = std::function<bool(std::string_view text, int32_t token)>;

// Chat formats with channels (gpt-oss harmony) keep the model's reasoning
// apart from its answer and hide the channel headers between them.
enum class TextChannel { Answer, Reasoning, Hidden };
struct ChannelSplit {
  // Called once per generated token, in order, before its text is decoded.
  std::function<TextChannel(int32_t token)> route;
  TokenCallback on_reasoning;  // receives the Reasoning text as on_text does the answer
};

// The tokens whose keys and values a runner's KV cache holds, in order,
// kept from one generation to the next: a prompt that begins as the last
// one did evaluates only the rest (the prompt cache; a chat's next turn
// evaluates only its new messages). Anything else that evaluates on the
// runner, or a new runner, must clear it.
struct KvHistory {
  std::vector<int32_t> tokens;
};

class Session {
 public:
  // history: the runner's KvHistory, or null to evaluate every prompt whole.
  Session(const Model& model, Runner& runner, KvHistory* history = nullptr);
  // For callers without a Model (tests with a fake Runner): the tokenizer of
  // the vocabulary the runner's logits are over.
  Session(const Tokenizer& tokenizer, Runner& runner, KvHistory* history = nullptr)
      : tokenizer_(tokenizer), runner_(runner), history_(history) {}
  // Throws halo::Error(InvalidArgument) when the prompt is empty or does not
  // fit the context; Runner errors pass through.
  GenerateStats generate(std::string_view prompt, const GenerateParams& params,
                         const TokenCallback& on_text);  // on_text may be empty
  // The same from prompt tokens (params.add_bos and parse_special unused).
  // With split, text goes to on_text or split->on_reasoning by its channel;
  // what a channel holds back is released when another begins.
  GenerateStats generate(std::span<const int32_t> prompt, const GenerateParams& params,
                         const TokenCallback& on_text, const ChannelSplit* split = nullptr);

  static constexpr uint32_t kPromptBatch = 512;  // tokens per Runner::eval of the prompt

 private:
  // Evaluates tokens from position n_past, keeping history_ in step.
  void evaluate(std::span<const int32_t> tokens, uint32_t n_past, std::vector<float>& logits);

  const Tokenizer& tokenizer_;
  Runner& runner_;
  KvHistory* history_;
};

}  // namespace halo
