// Token sampling: penalties, then top-k, top-p, min-p and temperature.
//
// The order and meaning follow llama.cpp's default chain: penalties change the
// raw logits; top-k, top-p and min-p pick the candidates from the distribution
// at temperature 1; temperature only shapes the final draw among them.
#pragma once
#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <vector>

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
  // Throws halo::Error(InvalidArgument) when logits is empty.
  int32_t sample(std::span<float> logits);
  // Records a token (prompt or generated) for the penalties.
  void accept(int32_t token);

  // Applies repetition, presence and frequency penalties for the recorded
  // tokens to logits in place (sample() does this first; public for tests).
  void apply_penalties(std::span<float> logits) const;

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };
  void select_top_k(std::span<const float> logits);
  void select_all(std::span<const float> logits);
  void keep_min_p(float max_logit);
  void narrow_for_top_p(float max_logit, double target);
  void keep_top_p(float max_logit, double total_weight);
  int32_t draw(float max_logit);

  SamplerParams p_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;
  std::vector<Candidate> candidates_;  // scratch, reused between calls
  std::vector<double> weights_;        // scratch for draw()
};

}  // namespace halo
