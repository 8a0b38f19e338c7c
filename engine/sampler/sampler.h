// Token sampling: penalties, then top-k, top-p, min-p and temperature.
#pragma once
#include <cstdint>
#include <deque>
#include <random>
#include <span>

namespace halo {

struct SamplerParams {
  float temperature = 0.8f;      // <= 0: greedy
  uint32_t top_k = 40;           // 0: off
  float top_p = 0.95f;           // 1: off
  float min_p = 0.05f;           // 0: off
  float repeat_penalty = 1.0f;   // 1: off (divides positive logits, multiplies negative)
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint32_t penalty_last_n = 64;  // how many recent tokens the penalties look at
  uint64_t seed = 0xFFFFFFFFFFFFFFFFull;  // this value: random seed
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& p);
  // Chooses a token from logits (n_vocab floats; may be modified).
  int32_t sample(std::span<float> logits);
  // Records a token (prompt or generated) for the penalties.
  void accept(int32_t token);

 private:
  SamplerParams p_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;
};

}  // namespace halo
