//===- InitTest.cpp -------------------------------------------------------===//
#include "runtime/train/Init.h"
#include "schema/Parameters.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace gpt;
using namespace gpt::train;

namespace {
ModelConfig tiny() {
  ModelConfig c;
  c.vocab_size = 100;
  c.context_length = 16;
  c.n_layer = 3;
  c.n_head = 2;
  c.d_model = 32;
  c.d_ff = 128;
  return c;
}
double stddev(const Tensor &t) {
  double s = 0, s2 = 0;
  auto n = t.numel();
  for (std::int64_t i = 0; i < n; ++i) {
    s += t.f32()[i];
    s2 += double(t.f32()[i]) * t.f32()[i];
  }
  double m = s / n;
  return std::sqrt(s2 / n - m * m);
}
} // namespace

TEST(Init, DeterministicForSeed) {
  auto a = initParameters(tiny(), 5);
  auto b = initParameters(tiny(), 5);
  auto c = initParameters(tiny(), 6);
  ASSERT_EQ(a.size(), parameterSpecs(tiny()).size());
  for (const auto &[name, t] : a) {
    EXPECT_EQ(t.data, b.at(name).data) << name;
  }
  EXPECT_NE(a.at("wte.weight").data, c.at("wte.weight").data);
}

TEST(Init, Gpt2Statistics) {
  auto p = initParameters(tiny(), 1);
  for (const ParamSpec &s : parameterSpecs(tiny())) {
    const Tensor &t = p.at(s.name);
    EXPECT_EQ(t.shape, s.shape) << s.name;
    EXPECT_EQ(t.dtype, DType::F32);
    switch (s.kind) {
    case ParamKind::Bias:
      for (std::int64_t i = 0; i < t.numel(); ++i)
        ASSERT_EQ(t.f32()[i], 0.0f) << s.name;
      break;
    case ParamKind::LayerNormGain:
      for (std::int64_t i = 0; i < t.numel(); ++i)
        ASSERT_EQ(t.f32()[i], 1.0f) << s.name;
      break;
    default: {
      double want = 0.02;
      if (s.name.find("c_proj.weight") != std::string::npos)
        want /= std::sqrt(2.0 * 3);
      EXPECT_NEAR(stddev(t), want, want * 0.1) << s.name;
    }
    }
  }
}

TEST(Init, TensorsIndependentOfEachOther) {
  // Same name and seed -> same values, whatever the model's depth.
  ModelConfig deeper = tiny();
  deeper.n_layer = 5;
  auto a = initParameters(tiny(), 9);
  auto b = initParameters(deeper, 9);
  EXPECT_EQ(a.at("wte.weight").data, b.at("wte.weight").data);
  EXPECT_EQ(a.at("h.0.attn.c_attn.weight").data,
            b.at("h.0.attn.c_attn.weight").data);
}

TEST(Init, NormalStreamIsStable) {
  NormalStream s(42);
  double sum = 0, sum2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double x = s.next();
    sum += x;
    sum2 += x * x;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sum2 / n, 1.0, 0.01);
  NormalStream a(7), b(7);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(a.next(), b.next());
}
