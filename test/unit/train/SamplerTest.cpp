#include "train/Sampler.h"

#include <gtest/gtest.h>

#include <map>

using gpt::train::Sampler;

TEST(Sampler, GreedyAtZeroTemperature) {
  float logits[] = {0.1f, 3.0f, 2.9f, -1.0f};
  Sampler s(1, 0.0, 1.0);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(s.sample(logits, 4), 1);
}

TEST(Sampler, DeterministicForSeed) {
  float logits[] = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
  Sampler a(7, 1.0, 1.0), b(7, 1.0, 1.0), c(8, 1.0, 1.0);
  std::vector<std::int64_t> x, y, z;
  for (int i = 0; i < 50; ++i) {
    x.push_back(a.sample(logits, 5));
    y.push_back(b.sample(logits, 5));
    z.push_back(c.sample(logits, 5));
  }
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
}

TEST(Sampler, TopPRestrictsToTheNucleus) {
  // Probabilities ~ 0.64, 0.24, 0.09, 0.03: top-p 0.8 keeps ids 0 and 1.
  float logits[] = {3.0f, 2.0f, 1.0f, 0.0f};
  Sampler s(3, 1.0, 0.8);
  std::map<std::int64_t, int> counts;
  for (int i = 0; i < 2000; ++i)
    ++counts[s.sample(logits, 4)];
  EXPECT_EQ(counts.count(2), 0u);
  EXPECT_EQ(counts.count(3), 0u);
  EXPECT_NEAR(counts[0] / 2000.0, 0.64 / 0.88, 0.05);
}
