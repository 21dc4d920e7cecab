//===- SamplerTest.cpp ----------------------------------------------------===//
#include "runtime/engine/Sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace gpt {
namespace {

struct Draws {
  SamplingParams params;
  std::unordered_map<int32_t, int> counts;
  uint64_t rng = 0;
  std::vector<float> scratch;
  int32_t next(const std::vector<float> &logits) {
    return sampleToken(params, counts, logits.data(),
                       static_cast<int64_t>(logits.size()), rng, scratch);
  }
};

TEST(Sampler, GreedyAtZeroTemperature) {
  Draws d;
  d.params.temperature = 0;
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(d.next({0.1f, 3.0f, 2.9f, -1.0f}), 1);
  EXPECT_EQ(d.next({2.0f, 2.0f, 1.0f}), 0); // ties: the lowest id
}

TEST(Sampler, DeterministicForSeed) {
  std::vector<float> flat(5, 1.0f);
  Draws a, b, c;
  a.rng = b.rng = 7;
  c.rng = 8;
  std::vector<int32_t> x, y, z;
  for (int i = 0; i < 50; ++i) {
    x.push_back(a.next(flat));
    y.push_back(b.next(flat));
    z.push_back(c.next(flat));
  }
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
}

TEST(Sampler, FollowsTheSoftmaxAtTemperature) {
  // exp(1) : exp(0) at T = 1; at T = 0.5 the ratio squares.
  for (float t : {1.0f, 0.5f}) {
    Draws d;
    d.rng = 11;
    d.params.temperature = t;
    int ones = 0, n = 20000;
    for (int i = 0; i < n; ++i)
      ones += d.next({0.0f, 1.0f}) == 1;
    double r = std::exp(1.0 / t);
    EXPECT_NEAR(ones / double(n), r / (1 + r), 0.015) << "T " << t;
  }
}

TEST(Sampler, TopPRestrictsToTheNucleus) {
  // Probabilities ~ 0.64, 0.24, 0.09, 0.03: top-p 0.8 keeps ids 0 and 1.
  Draws d;
  d.rng = 3;
  d.params.topP = 0.8f;
  std::map<int32_t, int> counts;
  for (int i = 0; i < 2000; ++i)
    ++counts[d.next({3.0f, 2.0f, 1.0f, 0.0f})];
  EXPECT_EQ(counts.count(2), 0u);
  EXPECT_EQ(counts.count(3), 0u);
  EXPECT_NEAR(counts[0] / 2000.0, 0.64 / 0.88, 0.05);
}

TEST(Sampler, TopKKeepsTheKMostLikely) {
  Draws d;
  d.rng = 5;
  d.params.topK = 2;
  std::map<int32_t, int> counts;
  for (int i = 0; i < 1000; ++i)
    ++counts[d.next({0.0f, 2.0f, 1.9f, 1.0f})];
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_GT(counts[1], 0);
  EXPECT_GT(counts[2], 0);
}

TEST(Sampler, PenaltiesAndBiasMoveTheArgmax) {
  Draws d;
  d.params.temperature = 0;
  std::vector<float> logits = {1.0f, 1.5f, 0.0f};
  EXPECT_EQ(d.next(logits), 1);
  d.counts[1] = 2;
  d.params.frequencyPenalty = 0.2f; // 1.5 - 0.4 = 1.1 > 1.0
  EXPECT_EQ(d.next(logits), 1);
  d.params.presencePenalty = 0.2f; // 1.1 - 0.2 = 0.9 < 1.0
  EXPECT_EQ(d.next(logits), 0);
  d.params.logitBias = {{2, 100.0f}};
  EXPECT_EQ(d.next(logits), 2);
  EXPECT_EQ(logits[2], 0.0f); // the caller's logits are left alone
}

} // namespace
} // namespace gpt
