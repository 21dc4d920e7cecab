//===- ActivationTest.cpp - GELU, bias + GELU, residual tests ------------===//
//
// Tolerances: forward atol 1e-6, rtol 1e-5 (the tanh approximation is good
// to ~1e-7 absolute); backward vs finite differences atol 1e-5, rtol 1e-4;
// ISA agreement atol 1e-6, rtol 1e-5.
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/Activation.h"

#include "TestUtil.h"

#include <cmath>

namespace gpt::cpu::test {
namespace {

double refGelu(double x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}

std::vector<double> refGeluVec(const std::vector<double> &x) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = refGelu(x[i]);
  return y;
}

std::vector<double> refBiasGelu(int64_t rows, int64_t C,
                                const std::vector<double> &x,
                                const std::vector<double> &b) {
  std::vector<double> y(rows * C);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c)
      y[r * C + c] = refGelu(x[r * C + c] + b[c]);
  return y;
}

TEST(Activation, GeluForwardAndBackward) {
  ThreadPool pool(2);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    for (int64_t n : {1, 17, 1000, 40001}) {
      auto x = randomVector(n, 1, 6.0f);
      x[0] = 0.0f;
      std::vector<float> y(n), dx(n);
      geluForward(y.data(), x.data(), n, pool);
      expectClose(y, refGeluVec(toDouble(x)), 1e-6, 1e-5,
                  std::string("gelu fwd [") + isaName(isa) + "]");
      auto dout = randomVector(n, 2);
      geluBackward(dx.data(), dout.data(), x.data(), n, pool);
      // d/dx_i sum_j w_j gelu(x_j) = w_i gelu'(x_i): central differences
      // per element (the loss is separable).
      std::vector<double> num(n);
      for (int64_t i = 0; i < n; ++i) {
        const double h = 1e-4;
        num[i] = dout[i] * (refGelu(x[i] + h) - refGelu(x[i] - h)) / (2 * h);
      }
      expectClose(dx, num, 1e-5, 1e-4,
                  std::string("gelu bwd [") + isaName(isa) + "]");
    }
  }
}

TEST(Activation, GeluExtremeInputs) {
  ThreadPool pool(1);
  std::vector<float> x = {-100.0f, -20.0f, -5.0f, 5.0f, 20.0f, 100.0f, 1e-8f};
  std::vector<float> y(x.size()), dx(x.size()), ones(x.size(), 1.0f);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    geluForward(y.data(), x.data(), x.size(), pool);
    geluBackward(dx.data(), ones.data(), x.data(), x.size(), pool);
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_TRUE(std::isfinite(y[i]) && std::isfinite(dx[i])) << x[i];
      EXPECT_NEAR(y[i], refGelu(x[i]), 1e-6 + 1e-6 * std::fabs(x[i]));
    }
  }
}

TEST(Activation, BiasGeluForwardAndBackward) {
  ThreadPool pool(2);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    for (auto [rows, C] :
         {std::pair<int64_t, int64_t>{1, 1}, {3, 5}, {70, 33}}) {
      auto x = randomVector(rows * C, 3, 3.0f), b = randomVector(C, 4);
      auto dout = randomVector(rows * C, 5);
      std::vector<float> y(x.size()), dx(x.size()), db(C);
      biasGeluForward(y.data(), x.data(), b.data(), rows, C, pool);
      auto X = toDouble(x), Bv = toDouble(b);
      std::string what = std::to_string(rows) + "x" + std::to_string(C) + " [" +
                         isaName(isa) + "]";
      expectClose(y, refBiasGelu(rows, C, X, Bv), 1e-6, 1e-5,
                  "bias+gelu fwd " + what);
      biasGeluBackward(dx.data(), db.data(), dout.data(), x.data(), b.data(),
                       rows, C, false, pool);
      expectClose(dx,
                  numericGradient(X,
                                  [&](const std::vector<double> &v) {
                                    return dotWeights(
                                        refBiasGelu(rows, C, v, Bv), dout);
                                  }),
                  1e-5, 1e-4, "bias+gelu dx " + what);
      expectClose(db,
                  numericGradient(Bv,
                                  [&](const std::vector<double> &v) {
                                    return dotWeights(
                                        refBiasGelu(rows, C, X, v), dout);
                                  }),
                  1e-4, 1e-4, "bias+gelu dbias " + what);
    }
  }
}

TEST(Activation, ResidualForwardAndBackward) {
  ThreadPool pool(2);
  const int64_t n = 50001;
  auto a = randomVector(n, 6), b = randomVector(n, 7), d = randomVector(n, 8);
  std::vector<float> out(n);
  residualForward(out.data(), a.data(), b.data(), n, pool);
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(out[i], a[i] + b[i]);
  std::vector<float> da(n, 1.0f), db(n, 0.0f);
  residualBackward(da.data(), db.data(), d.data(), n, true, pool);
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(da[i], 1.0f + d[i]);
    ASSERT_EQ(db[i], d[i]);
  }
  residualBackward(da.data(), nullptr, d.data(), n, false, pool);
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(da[i], d[i]);
}

TEST(Activation, IsasAgreeAndDeterministic) {
  const int64_t rows = 64, C = 300;
  auto x = randomVector(rows * C, 9, 4.0f), b = randomVector(C, 10),
       dout = randomVector(rows * C, 11);
  KernelRun run = [&](ThreadPool &pool) {
    std::vector<float> y(x.size()), dx(x.size()), g(x.size()), dg(x.size()),
        db(C);
    geluForward(g.data(), x.data(), x.size(), pool);
    geluBackward(dg.data(), dout.data(), x.data(), x.size(), pool);
    biasGeluForward(y.data(), x.data(), b.data(), rows, C, pool);
    biasGeluBackward(dx.data(), db.data(), dout.data(), x.data(), b.data(),
                     rows, C, false, pool);
    return concat({&g, &dg, &y, &dx, &db});
  };
  expectIsasAgree(run, 1e-5, 1e-5, "gelu");
  expectDeterministic(run, "gelu");
}

} // namespace
} // namespace gpt::cpu::test
