// Sampler: greedy, top-k/top-p/min-p filtering, temperature, penalties and
// seed reproducibility, on crafted logit vectors with fixed seeds.
#include "engine/sampler/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "engine/error.h"

namespace halo {
namespace {

SamplerParams plain(float temperature, uint64_t seed = 1234) {
  SamplerParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

// Logits whose softmax is exactly probs (log probabilities).
std::vector<float> from_probs(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(p > 0 ? static_cast<float>(std::log(p)) : -INFINITY);
  return l;
}

std::map<int32_t, int> histogram(Sampler& s, const std::vector<float>& logits, int draws) {
  std::map<int32_t, int> h;
  for (int i = 0; i < draws; ++i) {
    std::vector<float> copy = logits;
    ++h[s.sample(copy)];
  }
  return h;
}

std::vector<float> random_logits(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> l(n);
  for (float& x : l) x = dist(rng);
  return l;
}

TEST(Sampler, GreedyPicksTheArgmax) {
  Sampler s(plain(0.0f));
  std::vector<float> logits = {0.1f, 2.5f, -1.0f, 2.4f, 0.0f};
  EXPECT_EQ(s.sample(logits), 1);
  std::vector<float> big = random_logits(128256, 7);
  int32_t expected = static_cast<int32_t>(std::max_element(big.begin(), big.end()) - big.begin());
  EXPECT_EQ(s.sample(big), expected);
}

TEST(Sampler, GreedyIgnoresNaNAndPrefersTheLowestIdOnTies) {
  Sampler s(plain(0.0f));
  std::vector<float> logits = {NAN, 1.0f, 3.0f, 3.0f};
  EXPECT_EQ(s.sample(logits), 2);
}

TEST(Sampler, AllNaNLogitsAreAnError) {
  Sampler s(plain(0.8f));
  std::vector<float> logits = {NAN, NAN};
  EXPECT_THROW(s.sample(logits), Error);
  std::vector<float> empty;
  EXPECT_THROW(s.sample(empty), Error);
}

TEST(Sampler, TopKOfOneEqualsGreedy) {
  SamplerParams p = plain(1.5f);
  p.top_k = 1;
  Sampler s(p);
  Sampler greedy(plain(0.0f));
  for (uint32_t trial = 0; trial < 20; ++trial) {
    std::vector<float> a = random_logits(32000, trial);
    std::vector<float> b = a;
    EXPECT_EQ(s.sample(a), greedy.sample(b)) << "trial " << trial;
  }
}

TEST(Sampler, SameSeedGivesTheSameTokensAndOtherSeedsDiffer) {
  std::vector<float> logits = random_logits(1000, 3);
  for (float& l : logits) l *= 0.2f;  // flat enough that draws vary
  auto run = [&](uint64_t seed) {
    SamplerParams p = plain(1.0f, seed);
    p.top_k = 50;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) {
      std::vector<float> copy = logits;
      out.push_back(s.sample(copy));
    }
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, TemperatureOneFollowsTheDistribution) {
  Sampler s(plain(1.0f, 99));
  std::vector<float> logits = from_probs({0.5, 0.3, 0.2});
  auto h = histogram(s, logits, 20000);
  EXPECT_NEAR(h[0] / 20000.0, 0.5, 0.02);
  EXPECT_NEAR(h[1] / 20000.0, 0.3, 0.02);
  EXPECT_NEAR(h[2] / 20000.0, 0.2, 0.02);
}

TEST(Sampler, LowTemperatureSharpensAndHighTemperatureFlattens) {
  std::vector<float> logits = from_probs({0.5, 0.3, 0.2});
  Sampler cold(plain(0.25f, 5));
  Sampler hot(plain(4.0f, 5));
  auto hc = histogram(cold, logits, 10000);
  auto hh = histogram(hot, logits, 10000);
  // p^(1/T) renormalised: T=0.25 gives 0.5^4 / (0.5^4+0.3^4+0.2^4) = 0.858.
  EXPECT_NEAR(hc[0] / 10000.0, 0.858, 0.02);
  // T=4: 0.5^.25 / sum = 0.383.
  EXPECT_NEAR(hh[0] / 10000.0, 0.383, 0.02);
}

TEST(Sampler, TopKKeepsOnlyTheKBest) {
  SamplerParams p = plain(1.0f, 11);
  p.top_k = 3;
  Sampler s(p);
  std::vector<float> logits = {1.0f, 5.0f, 4.9f, 0.5f, 4.8f, 4.7f, 2.0f};
  auto h = histogram(s, logits, 3000);
  std::set<int32_t> seen;
  for (auto& [id, n] : h) seen.insert(id);
  EXPECT_EQ(seen, (std::set<int32_t>{1, 2, 4}));
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  SamplerParams p = plain(1.0f, 21);
  p.top_p = 0.75f;  // 0.5 + 0.3 reaches 0.75: tokens 3 and 0 stay
  Sampler s(p);
  std::vector<float> logits = from_probs({0.3, 0.1, 0.1, 0.5});
  auto h = histogram(s, logits, 5000);
  EXPECT_EQ(h.count(1) + h.count(2), 0u);
  EXPECT_NEAR(h[3] / 5000.0, 0.5 / 0.8, 0.03);
  EXPECT_NEAR(h[0] / 5000.0, 0.3 / 0.8, 0.03);
}

TEST(Sampler, TopPOnALargeVocabularyKeepsTheExactNucleusInsideOneBucket) {
  // 2000 tokens at logit 0, 2000 at -0.001 (same bucket of the narrowing
  // pass), the rest at -30. top_p 0.5 needs exactly the 2000 zeros.
  std::vector<float> logits(32000, -30.0f);
  for (int i = 0; i < 2000; ++i) logits[i * 8] = 0.0f;
  for (int i = 0; i < 2000; ++i) logits[i * 8 + 4] = -0.001f;
  SamplerParams p = plain(1.0f, 12);
  p.top_p = 0.5f;
  Sampler s(p);
  auto h = histogram(s, logits, 3000);
  for (auto& [id, n] : h) ASSERT_EQ(id % 8, 0) << "token " << id << " is outside the nucleus";
  EXPECT_GT(h.size(), 1400u);  // 3000 uniform draws over 2000 reach about 1550
}

TEST(Sampler, TopPOnALargeVocabularyWithAWideNucleus) {
  // 2000 equally likely tokens and the rest negligible: top_p 0.9 keeps 1800.
  std::vector<float> logits(32000, -40.0f);
  for (int i = 0; i < 2000; ++i) logits[i * 16] = 0.0f;
  SamplerParams p = plain(1.0f, 8);
  p.top_p = 0.9f;
  Sampler s(p);
  auto h = histogram(s, logits, 4000);
  for (auto& [id, n] : h) {
    ASSERT_EQ(id % 16, 0) << id;
    ASSERT_LT(id / 16, 1800) << "ties are broken by lower id";
  }
  EXPECT_GT(h.size(), 1400u);  // 4000 uniform draws over 1800 reach about 1600
}

TEST(Sampler, MinPDropsTokensBelowTheRatio) {
  SamplerParams p = plain(1.0f, 31);
  p.min_p = 0.3f;  // threshold 0.3 * 0.5 = 0.15: 0.2 stays, 0.1 goes
  Sampler s(p);
  std::vector<float> logits = from_probs({0.1, 0.5, 0.2, 0.1, 0.1});
  auto h = histogram(s, logits, 5000);
  EXPECT_EQ(h.count(0) + h.count(3) + h.count(4), 0u);
  EXPECT_NEAR(h[1] / 5000.0, 0.5 / 0.7, 0.03);
}

TEST(Sampler, FiltersCombineAsTheIntersection) {
  SamplerParams p = plain(1.0f, 41);
  p.top_k = 4;      // drops token 4
  p.top_p = 0.95f;  // over the 4 left (renormalised): keeps all four
  p.min_p = 0.25f;  // 0.25 * 0.4 = 0.1: drops token 3 (0.08)
  Sampler s(p);
  std::vector<float> logits = from_probs({0.4, 0.25, 0.2, 0.08, 0.07});
  auto h = histogram(s, logits, 5000);
  std::set<int32_t> seen;
  for (auto& [id, n] : h) seen.insert(id);
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1, 2}));
}

TEST(Sampler, RepeatPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 2.0f;
  Sampler s(p);
  s.accept(0);
  s.accept(1);
  s.accept(1);  // repeated: still penalised once
  std::vector<float> logits = {4.0f, -3.0f, 1.0f};
  s.apply_penalties(logits);
  EXPECT_FLOAT_EQ(logits[0], 2.0f);
  EXPECT_FLOAT_EQ(logits[1], -6.0f);
  EXPECT_FLOAT_EQ(logits[2], 1.0f);
}

TEST(Sampler, PresenceAndFrequencyPenaltiesSubtract) {
  SamplerParams p = plain(0.0f);
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  Sampler s(p);
  for (int32_t t : {2, 2, 2, 0}) s.accept(t);
  std::vector<float> logits = {1.0f, 1.0f, 1.0f};
  s.apply_penalties(logits);
  EXPECT_FLOAT_EQ(logits[0], 1.0f - 0.25f - 0.5f);
  EXPECT_FLOAT_EQ(logits[1], 1.0f);
  EXPECT_FLOAT_EQ(logits[2], 1.0f - 0.75f - 0.5f);
}

TEST(Sampler, PenaltiesOnlySeeTheLastNTokens) {
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 2.0f;
  p.penalty_last_n = 2;
  Sampler s(p);
  for (int32_t t : {0, 1, 2}) s.accept(t);  // 0 has left the window
  std::vector<float> logits = {4.0f, 4.0f, 4.0f, 4.0f};
  s.apply_penalties(logits);
  EXPECT_EQ(logits, (std::vector<float>{4.0f, 2.0f, 2.0f, 4.0f}));
}

TEST(Sampler, RepeatPenaltyChangesTheGreedyChoice) {
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 1.5f;
  Sampler s(p);
  s.accept(0);
  std::vector<float> logits = {3.0f, 2.5f};
  EXPECT_EQ(s.sample(logits), 1);  // 3.0 / 1.5 = 2.0 < 2.5
}

TEST(Sampler, PenaltiesIgnoreTokensOutsideTheVocabulary) {
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 2.0f;
  Sampler s(p);
  s.accept(-5);
  s.accept(1000);
  std::vector<float> logits = {1.0f, 2.0f};
  s.apply_penalties(logits);
  EXPECT_EQ(logits, (std::vector<float>{1.0f, 2.0f}));
}

TEST(Sampler, RejectsUnusableParameters) {
  SamplerParams p;
  p.temperature = NAN;
  EXPECT_THROW(Sampler{p}, Error);
  p = SamplerParams{};
  p.min_p = 1.5f;
  EXPECT_THROW(Sampler{p}, Error);
  p = SamplerParams{};
  p.repeat_penalty = 0.0f;
  EXPECT_THROW(Sampler{p}, Error);
  p = SamplerParams{};
  p.top_p = -0.1f;
  EXPECT_THROW(Sampler{p}, Error);
}

TEST(Sampler, TopKOnALargeVocabularyMatchesAFullSort) {
  std::vector<float> logits = random_logits(128256, 17);
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::partial_sort(order.begin(), order.begin() + 40, order.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  std::set<int32_t> top(order.begin(), order.begin() + 40);
  SamplerParams p = plain(100.0f, 3);  // very flat: every kept token shows up
  p.top_k = 40;
  Sampler s(p);
  auto h = histogram(s, logits, 1000);
  for (auto& [id, n] : h) EXPECT_TRUE(top.count(id)) << id;
  EXPECT_EQ(h.size(), 40u);
}

}  // namespace
}  // namespace halo
