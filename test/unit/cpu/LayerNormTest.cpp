//===- LayerNormTest.cpp - LayerNorm tests -------------------------------===//
//
// Tolerances: forward atol 1e-5, rtol 1e-4; backward vs finite differences
// atol 1e-4, rtol 1e-3; ISA agreement atol 1e-5, rtol 1e-4.
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/LayerNorm.h"

#include "TestUtil.h"

#include <cmath>

namespace gpt::cpu::test {
namespace {

constexpr float kEps = 1e-5f;

std::vector<double> refLayernorm(int64_t rows, int64_t C,
                                 const std::vector<double> &x,
                                 const std::vector<double> &g,
                                 const std::vector<double> &b,
                                 std::vector<double> *mean = nullptr,
                                 std::vector<double> *rstd = nullptr) {
  std::vector<double> y(rows * C);
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0.0, v = 0.0;
    for (int64_t i = 0; i < C; ++i)
      m += x[r * C + i];
    m /= C;
    for (int64_t i = 0; i < C; ++i)
      v += (x[r * C + i] - m) * (x[r * C + i] - m);
    double s = 1.0 / std::sqrt(v / C + kEps);
    for (int64_t i = 0; i < C; ++i)
      y[r * C + i] = (x[r * C + i] - m) * s * g[i] + b[i];
    if (mean)
      mean->push_back(m);
    if (rstd)
      rstd->push_back(s);
  }
  return y;
}

struct Shape {
  int64_t rows, C;
};

TEST(LayerNorm, ForwardMatchesDoubleReference) {
  ThreadPool pool(2);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    for (Shape s : {Shape{1, 1}, Shape{5, 7}, Shape{33, 768}, Shape{70, 129}}) {
      auto x = randomVector(s.rows * s.C, 1, 3.0f);
      for (size_t i = 0; i < x.size(); ++i)
        x[i] += 5.0f; // a mean far from 0
      auto g = randomVector(s.C, 2), b = randomVector(s.C, 3);
      std::vector<float> y(x.size()), mean(s.rows), rstd(s.rows);
      layernormForward(y.data(), mean.data(), rstd.data(), x.data(), g.data(),
                       b.data(), s.rows, s.C, kEps, pool);
      std::vector<double> rm, rs;
      auto ref = refLayernorm(s.rows, s.C, toDouble(x), toDouble(g),
                              toDouble(b), &rm, &rs);
      std::string what = std::to_string(s.rows) + "x" + std::to_string(s.C) +
                         " [" + isaName(isa) + "]";
      expectClose(y, ref, 1e-5, 1e-4, "layernorm out " + what);
      expectClose(mean, rm, 1e-5, 1e-5, "layernorm mean " + what);
      expectClose(rstd, rs, 1e-5, 1e-4, "layernorm rstd " + what);
    }
  }
}

TEST(LayerNorm, BackwardMatchesFiniteDifferences) {
  ThreadPool pool(2);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    for (Shape s : {Shape{1, 2}, Shape{4, 7}, Shape{40, 33}}) {
      auto x = randomVector(s.rows * s.C, 4);
      auto g = randomVector(s.C, 5), b = randomVector(s.C, 6);
      auto dout = randomVector(s.rows * s.C, 7);
      std::vector<float> y(x.size()), mean(s.rows), rstd(s.rows);
      layernormForward(y.data(), mean.data(), rstd.data(), x.data(), g.data(),
                       b.data(), s.rows, s.C, kEps, pool);
      std::vector<float> dx(x.size()), dg(s.C), db(s.C);
      layernormBackward(dx.data(), dg.data(), db.data(), dout.data(), x.data(),
                        g.data(), mean.data(), rstd.data(), s.rows, s.C, false,
                        pool);
      auto X = toDouble(x), G = toDouble(g), Bv = toDouble(b);
      std::string what = std::to_string(s.rows) + "x" + std::to_string(s.C) +
                         " [" + isaName(isa) + "]";
      expectClose(dx,
                  numericGradient(X,
                                  [&](const std::vector<double> &v) {
                                    return dotWeights(
                                        refLayernorm(s.rows, s.C, v, G, Bv),
                                        dout);
                                  }),
                  1e-4, 1e-3, "layernorm dx " + what);
      expectClose(dg,
                  numericGradient(G,
                                  [&](const std::vector<double> &v) {
                                    return dotWeights(
                                        refLayernorm(s.rows, s.C, X, v, Bv),
                                        dout);
                                  }),
                  1e-4, 1e-3, "layernorm dgamma " + what);
      expectClose(db,
                  numericGradient(Bv,
                                  [&](const std::vector<double> &v) {
                                    return dotWeights(
                                        refLayernorm(s.rows, s.C, X, G, v),
                                        dout);
                                  }),
                  1e-4, 1e-3, "layernorm dbeta " + what);
      // accumulate adds.
      std::vector<float> dg2(s.C, 1.0f), db2(s.C, -1.0f), dx2(x.size());
      layernormBackward(dx2.data(), dg2.data(), db2.data(), dout.data(),
                        x.data(), g.data(), mean.data(), rstd.data(), s.rows,
                        s.C, true, pool);
      for (int64_t i = 0; i < s.C; ++i) {
        ASSERT_NEAR(dg2[i], dg[i] + 1.0f, 1e-5);
        ASSERT_NEAR(db2[i], db[i] - 1.0f, 1e-5);
      }
    }
  }
}

TEST(LayerNorm, IsasAgreeAndDeterministic) {
  const int64_t rows = 100, C = 200;
  auto x = randomVector(rows * C, 8), g = randomVector(C, 9),
       b = randomVector(C, 10), dout = randomVector(rows * C, 11);
  KernelRun run = [&](ThreadPool &pool) {
    std::vector<float> y(x.size()), mean(rows), rstd(rows), dx(x.size()), dg(C),
        db(C);
    layernormForward(y.data(), mean.data(), rstd.data(), x.data(), g.data(),
                     b.data(), rows, C, kEps, pool);
    layernormBackward(dx.data(), dg.data(), db.data(), dout.data(), x.data(),
                      g.data(), mean.data(), rstd.data(), rows, C, false, pool);
    return concat({&y, &mean, &rstd, &dx, &dg, &db});
  };
  expectIsasAgree(run, 1e-5, 1e-4, "layernorm");
  expectDeterministic(run, "layernorm");
}

} // namespace
} // namespace gpt::cpu::test
