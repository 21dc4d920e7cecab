//===- OptimizerTest.cpp - AdamW and gradient-norm clipping tests --------===//
//
// AdamW is compared with a double-precision reference over several steps
// (atol 1e-6, rtol 1e-5 on parameters and moments); the gradient norm with
// a double reference (rtol 1e-12: both sum in double).
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/Optimizer.h"

#include "TestUtil.h"

#include <cmath>
#include <stdexcept>

namespace gpt::cpu::test {
namespace {

TEST(AdamW, MatchesDoubleReferenceOverSeveralSteps) {
  ThreadPool pool(2);
  const int64_t n = 40003;
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    auto p = randomVector(n, 1);
    std::vector<float> m(n, 0.0f), v(n, 0.0f);
    std::vector<double> P = toDouble(p), M(n, 0.0), Vv(n, 0.0);
    AdamWParams hp;
    hp.lr = 3e-3f;
    hp.beta1 = 0.9f;
    hp.beta2 = 0.95f;
    hp.eps = 1e-8f;
    hp.weightDecay = 0.1f;
    for (int64_t step = 1; step <= 5; ++step) {
      auto g = randomVector(n, 10 + step);
      hp.step = step;
      hp.gradScale = step == 3 ? 0.5f : 1.0f;
      adamwUpdate(p.data(), g.data(), m.data(), v.data(), n, hp, pool);
      const double b1 = hp.beta1, b2 = hp.beta2;
      for (int64_t i = 0; i < n; ++i) {
        double gi = static_cast<double>(hp.gradScale) * g[i];
        M[i] = b1 * M[i] + (1 - b1) * gi;
        Vv[i] = b2 * Vv[i] + (1 - b2) * gi * gi;
        double mhat = M[i] / (1 - std::pow(b1, step));
        double vhat = Vv[i] / (1 - std::pow(b2, step));
        P[i] -= static_cast<double>(hp.lr) *
                (mhat / (std::sqrt(vhat) + hp.eps) + hp.weightDecay * P[i]);
      }
    }
    std::string what = std::string("[") + isaName(isa) + "]";
    expectClose(p, P, 1e-6, 1e-5, "adamw param " + what);
    expectClose(m, M, 1e-6, 1e-5, "adamw m " + what);
    expectClose(v, Vv, 1e-7, 1e-5, "adamw v " + what);
  }
}

TEST(AdamW, RejectsStepZero) {
  ThreadPool pool(1);
  std::vector<float> p(3), g(3), m(3), v(3);
  AdamWParams hp;
  hp.step = 0;
  EXPECT_THROW(adamwUpdate(p.data(), g.data(), m.data(), v.data(), 3, hp, pool),
               std::invalid_argument);
}

TEST(GradNorm, NormClipScaleAndScaling) {
  ThreadPool pool(2);
  auto a = randomVector(100000, 1), b = randomVector(7, 2),
       c = randomVector(33333, 3);
  std::vector<TensorSpan> ts = {{a.data(), (int64_t)a.size()},
                                {b.data(), (int64_t)b.size()},
                                {nullptr, 0},
                                {c.data(), (int64_t)c.size()}};
  double ref = 0.0;
  for (auto *vec : {&a, &b, &c})
    for (float x : *vec)
      ref += static_cast<double>(x) * x;
  ref = std::sqrt(ref);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    EXPECT_NEAR(globalGradNorm(ts.data(), ts.size(), pool), ref, 1e-9 * ref);
  }
  EXPECT_EQ(clipScale(0.5, 1.0f), 1.0f);
  EXPECT_EQ(clipScale(5.0, 0.0f), 1.0f);
  float s = clipScale(ref, 1.0f);
  EXPECT_NEAR(s, 1.0 / (ref + 1e-6), 1e-7);
  scaleTensors(ts.data(), ts.size(), s, pool);
  EXPECT_NEAR(globalGradNorm(ts.data(), ts.size(), pool), 1.0, 1e-5);
}

TEST(GradNorm, Deterministic) {
  auto a = randomVector(300001, 5);
  std::vector<TensorSpan> ts = {{a.data(), (int64_t)a.size()}};
  KernelRun run = [&](ThreadPool &pool) {
    double n = globalGradNorm(ts.data(), ts.size(), pool);
    std::vector<float> out(2);
    std::memcpy(out.data(), &n, sizeof(n));
    return out;
  };
  expectDeterministic(run, "globalGradNorm");
  auto g = randomVector(50000, 6);
  KernelRun adam = [&](ThreadPool &pool) {
    std::vector<float> p(g.size(), 0.5f), m(g.size(), 0.1f), v(g.size(), 0.2f);
    AdamWParams hp;
    hp.step = 7;
    hp.weightDecay = 0.01f;
    adamwUpdate(p.data(), g.data(), m.data(), v.data(), g.size(), hp, pool);
    return concat({&p, &m, &v});
  };
  expectIsasAgree(adam, 1e-6, 1e-5, "adamw");
  expectDeterministic(adam, "adamw");
}

} // namespace
} // namespace gpt::cpu::test
