// The generation loop shared by halo-run and the daemon: tokenize, process the
// prompt in batches, sample, stream text, stop on EOS/EOT, stop strings or
// max tokens.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/sampler/sampler.h"

namespace halo {

class Model;
class Runner;

enum class StopReason { Stop, Length, Cancelled, Error };
std::string_view stop_reason_name(StopReason r);  // "stop", "length", "cancelled", "error"

struct GenerateParams {
  SamplerParams sampling;
  uint32_t max_tokens = 128;
  std::vector<std::string> stop;  // generation ends before any of these strings
  bool add_bos = true;            // when the vocabulary wants BOS
  bool parse_special = true;      // special-token text in the prompt becomes tokens
};

struct GenerateStats {
  StopReason reason = StopReason::Stop;
  uint32_t prompt_tokens = 0;
  uint32_t generated_tokens = 0;
  double prompt_seconds = 0;
  double generate_seconds = 0;
  double prompt_tps() const { return prompt_seconds > 0 ? prompt_tokens / prompt_seconds : 0; }
  double generate_tps() const {
    return generate_seconds > 0 ? generated_tokens / generate_seconds : 0;
  }
};

// Receives each piece of text as it becomes final, with the token that
// completed it. Returning false cancels generation.
using TokenCallback = std::function<bool(std::string_view text, int32_t token)>;

class Session {
 public:
  Session(const Model& model, Runner& runner) : model_(model), runner_(runner) {}
  // Throws halo::Error(InvalidArgument) when the prompt does not fit the context.
  GenerateStats generate(std::string_view prompt, const GenerateParams& params,
                         const TokenCallback& on_text);

 private:
  const Model& model_;
  Runner& runner_;
};

}  // namespace halo
