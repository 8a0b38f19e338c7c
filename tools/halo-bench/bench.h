// halo-bench measurements in the manner of llama-bench: pp = one eval of
// n_prompt random tokens from an empty cache; tg = n_gen single-token evals
// from an empty context. Each repeated `reps` times after one warm-up.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace halo {
class Runner;
}

namespace halo::bench {

struct Figure {
  double mean = 0;
  double stddev = 0;  // sample standard deviation; 0 for a single rep
};
Figure summarize(const std::vector<double>& samples);

// Tokens per second of each rep.
std::vector<double> bench_prompt(Runner& runner, uint32_t n_vocab, uint32_t n_prompt, uint32_t reps);
// Generation starts after `depth` tokens of context (llama-bench's -d).
std::vector<double> bench_generate(Runner& runner, uint32_t n_vocab, uint32_t n_gen, uint32_t reps,
                                   uint32_t depth = 0);

}  // namespace halo::bench
