// halod's a{sv} option decoding (daemon/options) on dictionaries built in
// memory, as sd-bus would hand them over: every dictionary is accepted
// within the documented ranges or refused with InvalidArgument; no other
// error or exception leaves the parser.
#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/errors.h"
#include "daemon/options.h"
#include "engine/sampler/sampler.h"
#include "fuzz/check.h"
#include "fuzz/variant_maker.h"

namespace {

void check_load(const halod::LoadModelOptions& o) {
  FUZZ_CHECK(o.backend.empty() || o.backend == "auto" || o.backend == "cpu" || o.backend == "vulkan" ||
             o.backend == "rocm");
  FUZZ_CHECK(o.context_length == 0 || (o.context_length >= 16 && o.context_length <= (1u << 20)));
  FUZZ_CHECK(!o.keep_alive || *o.keep_alive >= -1);
}

void check_generate(const halo::GenerateParams& p, const halod::GenerateLimits& limits) {
  FUZZ_CHECK(p.max_tokens >= 1 && p.max_tokens <= limits.max_tokens_limit);
  const auto& s = p.sampling;
  FUZZ_CHECK(std::isfinite(s.temperature) && s.temperature >= 0);
  FUZZ_CHECK(std::isfinite(s.top_p) && s.top_p >= 0 && s.top_p <= 1);
  FUZZ_CHECK(std::isfinite(s.min_p) && s.min_p >= 0 && s.min_p <= 1);
  FUZZ_CHECK(std::isfinite(s.repeat_penalty) && s.repeat_penalty >= 0);
  FUZZ_CHECK(p.stop.size() <= 16);
  for (const auto& stop : p.stop) FUZZ_CHECK(!stop.empty());
}

// Parameters the parser accepts, the sampler must take: it draws a token of
// the vocabulary, and at a vanishing temperature the most likely one.
void check_sampler_takes(const halo::SamplerParams& params) {
  std::vector<float> logits = {0.5f, -2.0f, 3.0f, 9.0f, -7.5f, 1.25f, 4.0f, 0.0f};
  halo::Sampler sampler(params);
  for (int32_t t : {3, 1, 3}) sampler.accept(t);
  std::vector<float> penalized = logits;
  sampler.apply_penalties(penalized);
  const int32_t token = sampler.sample(logits);
  FUZZ_CHECK(token >= 0 && token < static_cast<int32_t>(logits.size()));
  std::vector<float> sorted = penalized;
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  const bool clear_winner = sorted[0] - sorted[1] > 1e-3f * std::fabs(sorted[0]);
  if (params.temperature < 1e-6f && clear_winner) FUZZ_CHECK(penalized[token] == sorted[0]);
}

template <typename Parse>
void expect_valid_or_invalid_argument(Parse parse) {
  try {
    parse();
  } catch (const sdbus::Error& e) {
    FUZZ_CHECK(e.getName() == halod::errors::kInvalidArgument);
    FUZZ_CHECK(!e.getMessage().empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  halo::fuzz::VariantMaker make(in);
  const bool load = in.ConsumeBool();
  halod::GenerateLimits limits;
  limits.max_tokens_limit = in.ConsumeIntegralInRange<uint32_t>(1, 1u << 20);
  limits.default_max_tokens = in.ConsumeIntegralInRange<uint32_t>(1, limits.max_tokens_limit);
  const halod::VariantMap options = make.options();
  if (load)
    expect_valid_or_invalid_argument([&] { check_load(halod::parse_load_options(options)); });
  else
    expect_valid_or_invalid_argument([&] {
      const halo::GenerateParams params = halod::parse_generate_options(options, limits);
      check_generate(params, limits);
      check_sampler_takes(params.sampling);
    });
  return 0;
}
