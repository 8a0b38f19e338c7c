#include "tools/halo-bench/bench.h"

#include <chrono>
#include <cmath>
#include <random>
#include <span>

#include "engine/backend/backend.h"

namespace halo::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<int32_t> random_tokens(uint32_t n_vocab, uint32_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(n_vocab) - 1);
  std::vector<int32_t> tokens(count);
  for (int32_t& t : tokens) t = pick(rng);
  return tokens;
}

double prompt_seconds(Runner& runner, std::span<const int32_t> tokens, std::vector<float>& logits) {
  auto start = Clock::now();
  runner.eval(tokens, 0, false, logits);
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Tokens one at a time at positions depth, depth + 1, ...
double generate_seconds(Runner& runner, std::span<const int32_t> tokens, uint32_t depth, std::vector<float>& logits) {
  auto start = Clock::now();
  for (uint32_t i = 0; i < tokens.size(); ++i) runner.eval(tokens.subspan(i, 1), depth + i, false, logits);
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

Figure summarize(const std::vector<double>& samples) {
  Figure f;
  if (samples.empty()) return f;
  for (double s : samples) f.mean += s;
  f.mean /= samples.size();
  if (samples.size() < 2) return f;
  double sq = 0;
  for (double s : samples) sq += (s - f.mean) * (s - f.mean);
  f.stddev = std::sqrt(sq / (samples.size() - 1));
  return f;
}

std::vector<double> bench_prompt(Runner& runner, uint32_t n_vocab, uint32_t n_prompt, uint32_t reps) {
  std::vector<int32_t> tokens = random_tokens(n_vocab, n_prompt, 1);
  std::vector<float> logits;
  prompt_seconds(runner, tokens, logits);  // warm-up: page in weights, build pipelines
  std::vector<double> tps;
  for (uint32_t r = 0; r < reps; ++r) tps.push_back(n_prompt / prompt_seconds(runner, tokens, logits));
  return tps;
}

std::vector<double> bench_generate(Runner& runner, uint32_t n_vocab, uint32_t n_gen, uint32_t reps, uint32_t depth) {
  std::vector<int32_t> tokens = random_tokens(n_vocab, n_gen, 2);
  std::vector<float> logits;
  // The context the generation attends to (untimed); every repetition
  // generates over the same prefix, overwriting the previous one's tokens.
  if (depth > 0) runner.eval(random_tokens(n_vocab, depth, 3), 0, false, logits);
  generate_seconds(runner, std::span<const int32_t>(tokens).first(1), depth, logits);  // warm-up
  std::vector<double> tps;
  for (uint32_t r = 0; r < reps; ++r) tps.push_back(n_gen / generate_seconds(runner, tokens, depth, logits));
  return tps;
}

}  // namespace halo::bench
