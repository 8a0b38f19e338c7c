#include "engine/sampler/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "engine/error.h"

namespace halo {
namespace {

constexpr uint64_t kRandomSeed = 0xFFFFFFFFFFFFFFFFull;
// top-p sorts at most this many candidates as they are; more are first
// narrowed down to the nucleus by bucketing (narrow_for_top_p).
constexpr size_t kSortDirectlyUpTo = 1024;

void check_finite(float value, const char* name) {
  if (!std::isfinite(value)) {
    throw Error(ErrorKind::InvalidArgument, std::string("sampler: ") + name + " is not a finite number");
  }
}

void validate(const SamplerParams& p) {
  check_finite(p.temperature, "temperature");
  check_finite(p.top_p, "top_p");
  check_finite(p.min_p, "min_p");
  check_finite(p.repeat_penalty, "repeat_penalty");
  check_finite(p.presence_penalty, "presence_penalty");
  check_finite(p.frequency_penalty, "frequency_penalty");
  if (p.top_p < 0) throw Error(ErrorKind::InvalidArgument, "sampler: top_p must be >= 0");
  if (p.min_p < 0 || p.min_p > 1) {
    throw Error(ErrorKind::InvalidArgument, "sampler: min_p must be between 0 and 1");
  }
  if (p.repeat_penalty <= 0) {
    throw Error(ErrorKind::InvalidArgument, "sampler: repeat_penalty must be > 0");
  }
}

uint64_t initial_seed(uint64_t seed) {
  if (seed != kRandomSeed) return seed;
  std::random_device device;
  return (uint64_t{device()} << 32) ^ device();
}

// Uniform double in [0, 1) from the top 53 bits, so a seed gives the same
// draws with every standard library (uniform_real_distribution may differ).
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Index of the largest logit, ignoring NaN; the lowest id wins ties. -1 when
// every logit is NaN.
int32_t argmax(std::span<const float> logits) {
  int32_t best = -1;
  float best_logit = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    float l = logits[i];
    if (std::isnan(l)) continue;
    if (best < 0 || l > best_logit) {
      best = static_cast<int32_t>(i);
      best_logit = l;
    }
  }
  return best;
}

}  // namespace

Sampler::Sampler(const SamplerParams& p) : p_(p), rng_(initial_seed(p.seed)) { validate(p); }

void Sampler::accept(int32_t token) {
  if (p_.penalty_last_n == 0) return;
  recent_.push_back(token);
  while (recent_.size() > p_.penalty_last_n) recent_.pop_front();
}

void Sampler::apply_penalties(std::span<float> logits) const {
  bool any = p_.repeat_penalty != 1.0f || p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
  if (!any || recent_.empty()) return;
  std::vector<int32_t> seen(recent_.begin(), recent_.end());
  std::sort(seen.begin(), seen.end());
  for (size_t i = 0; i < seen.size();) {
    size_t run_end = i;
    while (run_end < seen.size() && seen[run_end] == seen[i]) ++run_end;
    int32_t id = seen[i];
    float count = static_cast<float>(run_end - i);
    i = run_end;
    if (id < 0 || static_cast<size_t>(id) >= logits.size()) continue;
    float& l = logits[id];
    // llama.cpp: the repetition penalty always pushes the logit toward "less likely".
    l = l <= 0 ? l * p_.repeat_penalty : l / p_.repeat_penalty;
    l -= count * p_.frequency_penalty + p_.presence_penalty;
  }
}

// Keeps the top_k highest logits (ties: lower id first) with a min-heap of
// size k: one pass over the vocabulary, O(n log k), no full sort.
void Sampler::select_top_k(std::span<const float> logits) {
  auto worse = [](const Candidate& a, const Candidate& b) {  // heap top = worst kept
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  candidates_.clear();
  size_t k = p_.top_k;
  for (size_t i = 0; i < logits.size(); ++i) {
    float l = logits[i];
    if (std::isnan(l)) continue;
    if (candidates_.size() < k) {
      candidates_.push_back({static_cast<int32_t>(i), l});
      std::push_heap(candidates_.begin(), candidates_.end(), worse);
    } else if (l > candidates_.front().logit) {
      std::pop_heap(candidates_.begin(), candidates_.end(), worse);
      candidates_.back() = {static_cast<int32_t>(i), l};
      std::push_heap(candidates_.begin(), candidates_.end(), worse);
    }
  }
  std::sort_heap(candidates_.begin(), candidates_.end(), worse);  // best first
}

void Sampler::select_all(std::span<const float> logits) {
  candidates_.clear();
  for (size_t i = 0; i < logits.size(); ++i) {
    if (!std::isnan(logits[i])) candidates_.push_back({static_cast<int32_t>(i), logits[i]});
  }
}

// min-p: keep tokens whose probability is at least min_p times the largest,
// i.e. logit >= max_logit + log(min_p). Order of candidates is preserved.
void Sampler::keep_min_p(float max_logit) {
  if (p_.min_p <= 0 || candidates_.size() <= 1) return;
  float threshold = max_logit + std::log(p_.min_p);
  std::erase_if(candidates_, [&](const Candidate& c) { return c.logit < threshold; });
}

// Drops candidates that cannot be in the top-p nucleus without sorting them:
// logits are counted into buckets below the maximum, and buckets are taken
// from the top until a lower bound of their mass (count x weight of the
// bucket's lower edge) reaches target. The exact nucleus lies inside what is
// kept, since the bound only ever keeps more. O(n) and no exp per token,
// for 128k vocabularies whose nucleus may hold thousands of tokens.
void Sampler::narrow_for_top_p(float max_logit, double target) {
  constexpr size_t kBuckets = 4096;
  float min_logit = max_logit;
  for (const Candidate& c : candidates_) {
    if (std::isfinite(c.logit)) min_logit = std::min(min_logit, c.logit);
  }
  if (!(max_logit > min_logit)) return;  // all equal: nothing to narrow
  const double width = static_cast<double>(max_logit - min_logit) / (kBuckets - 1);
  auto bucket_of = [&](float logit) -> size_t {  // kBuckets: weight 0, never needed
    if (!std::isfinite(logit)) return kBuckets;
    return std::min(kBuckets - 1, static_cast<size_t>((max_logit - logit) / width));
  };
  std::vector<uint32_t> count(kBuckets + 1, 0);
  for (const Candidate& c : candidates_) ++count[bucket_of(c.logit)];
  size_t cut = kBuckets - 1;
  double mass_lower_bound = 0;
  for (size_t b = 0; b < kBuckets; ++b) {
    mass_lower_bound += count[b] * std::exp(-width * static_cast<double>(b + 1));
    if (mass_lower_bound >= target) {
      cut = b;
      break;
    }
  }
  std::erase_if(candidates_, [&](const Candidate& c) { return bucket_of(c.logit) > cut; });
}

// top-p: keep the smallest set of most likely tokens whose probability (at
// temperature 1, normalised over total_weight) reaches top_p; at least one.
void Sampler::keep_top_p(float max_logit, double total_weight) {
  if (p_.top_p >= 1 || candidates_.size() <= 1) return;
  double target = static_cast<double>(p_.top_p) * total_weight;
  if (candidates_.size() > kSortDirectlyUpTo) narrow_for_top_p(max_logit, target);
  std::sort(candidates_.begin(), candidates_.end(), [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  });
  double cumulative = 0;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    cumulative += std::exp(candidates_[i].logit - max_logit);
    if (cumulative >= target) {
      candidates_.resize(i + 1);
      return;
    }
  }
}

// Draws one candidate with weights exp((logit - max) / temperature).
int32_t Sampler::draw(float max_logit) {
  if (candidates_.size() == 1) return candidates_[0].id;
  float inv_temp = 1.0f / p_.temperature;
  double total = 0;
  weights_.resize(candidates_.size());
  for (size_t i = 0; i < candidates_.size(); ++i) {
    weights_[i] = std::exp((candidates_[i].logit - max_logit) * inv_temp);  // float exp, summed in double
    total += weights_[i];
  }
  double u = uniform01(rng_) * total;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    u -= weights_[i];
    if (u < 0) return candidates_[i].id;
  }
  return candidates_.back().id;  // rounding left u at exactly 0
}

int32_t Sampler::sample(std::span<float> logits) {
  if (logits.empty()) throw Error(ErrorKind::InvalidArgument, "sampler: no logits to sample from");
  apply_penalties(logits);
  int32_t best = argmax(logits);
  if (best < 0) throw Error(ErrorKind::InvalidArgument, "sampler: every logit is NaN");
  float max_logit = logits[best];
  if (p_.temperature <= 0 || std::isinf(max_logit)) return best;

  bool use_top_k = p_.top_k > 0 && p_.top_k < logits.size();
  if (use_top_k) {
    select_top_k(logits);
  } else {
    select_all(logits);
  }
  // top-p normalises over the candidates left by top-k (llama.cpp order);
  // min-p only depends on the maximum, so it can run first and shrink the sort.
  double total_weight = 0;
  if (p_.top_p < 1) {
    for (const Candidate& c : candidates_) total_weight += std::exp(c.logit - max_logit);
  }
  keep_min_p(max_logit);
  keep_top_p(max_logit, total_weight);
  return draw(max_logit);
}

}  // namespace halo
