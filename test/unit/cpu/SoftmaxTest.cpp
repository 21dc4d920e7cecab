//===- SoftmaxTest.cpp - Softmax and softmax + cross-entropy tests -------===//
//
// Tolerances: forward atol 1e-6, rtol 1e-5 (probabilities), loss rtol 1e-5;
// backward vs finite differences atol 1e-5, rtol 1e-3; ISA agreement atol
// 1e-6, rtol 1e-5.
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/Softmax.h"

#include "TestUtil.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace gpt::cpu::test {
namespace {

std::vector<double> refSoftmax(int64_t rows, int64_t C,
                               const std::vector<double> &x) {
  std::vector<double> y(rows * C);
  for (int64_t r = 0; r < rows; ++r) {
    double m = -1e300, s = 0.0;
    for (int64_t i = 0; i < C; ++i)
      m = std::max(m, x[r * C + i]);
    for (int64_t i = 0; i < C; ++i)
      s += std::exp(x[r * C + i] - m);
    for (int64_t i = 0; i < C; ++i)
      y[r * C + i] = std::exp(x[r * C + i] - m) / s;
  }
  return y;
}

double refCrossEntropy(int64_t N, int64_t V, const std::vector<double> &x,
                       const std::vector<int32_t> &t,
                       const std::vector<float> *w) {
  double total = 0.0, wsum = 0.0;
  for (int64_t i = 0; i < N; ++i) {
    if (t[i] < 0)
      continue;
    double m = -1e300, s = 0.0;
    for (int64_t v = 0; v < V; ++v)
      m = std::max(m, x[i * V + v]);
    for (int64_t v = 0; v < V; ++v)
      s += std::exp(x[i * V + v] - m);
    double wi = w ? (*w)[i] : 1.0;
    total += wi * (m + std::log(s) - x[i * V + t[i]]);
    wsum += wi;
  }
  return wsum == 0.0 ? 0.0 : total / wsum;
}

TEST(Softmax, ForwardAndBackward) {
  ThreadPool pool(2);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    for (auto [rows, C] :
         {std::pair<int64_t, int64_t>{1, 1}, {4, 13}, {9, 1000}}) {
      auto x = randomVector(rows * C, 1, 8.0f);
      auto dy = randomVector(rows * C, 2);
      std::vector<float> y(x.size()), dx(x.size());
      softmaxForward(y.data(), x.data(), rows, C, pool);
      auto X = toDouble(x);
      std::string what = std::to_string(rows) + "x" + std::to_string(C) + " [" +
                         isaName(isa) + "]";
      expectClose(y, refSoftmax(rows, C, X), 1e-6, 1e-5, "softmax " + what);
      softmaxBackward(dx.data(), dy.data(), y.data(), rows, C, pool);
      if (rows * C <= 100)
        expectClose(dx,
                    numericGradient(X,
                                    [&](const std::vector<double> &v) {
                                      return dotWeights(refSoftmax(rows, C, v),
                                                        dy);
                                    }),
                    1e-5, 1e-3, "softmax dx " + what);
    }
  }
}

TEST(Softmax, MinusInfinityGetsZeroProbability) {
  ThreadPool pool(1);
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {1.0f, -inf, 2.0f, -inf, 0.5f};
  std::vector<float> y(x.size());
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    softmaxForward(y.data(), x.data(), 1, x.size(), pool);
    EXPECT_EQ(y[1], 0.0f);
    EXPECT_EQ(y[3], 0.0f);
    EXPECT_NEAR(y[0] + y[2] + y[4], 1.0f, 1e-6);
  }
}

struct CeCase {
  int64_t N, V;
  bool weighted;
};

TEST(CrossEntropy, ForwardAndBackward) {
  ThreadPool pool(2);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    for (CeCase c : {CeCase{1, 1, false}, CeCase{7, 11, false},
                     CeCase{7, 11, true}, CeCase{5, 70, true}}) {
      auto x = randomVector(c.N * c.V, 3, 5.0f);
      std::vector<int32_t> t(c.N);
      for (int64_t i = 0; i < c.N; ++i)
        t[i] = static_cast<int32_t>((i * 7 + 3) % c.V);
      std::vector<float> w = randomVector(c.N, 4);
      for (float &wi : w)
        wi = std::fabs(wi);
      if (c.N > 2) {
        t[1] = -1;   // ignored token
        w[2] = 0.0f; // zero-weight token
      }
      const std::vector<float> *wp = c.weighted ? &w : nullptr;
      std::vector<float> lse(c.N), losses(c.N), dx(x.size());
      float loss =
          crossEntropyForward(losses.data(), lse.data(), x.data(), t.data(),
                              wp ? w.data() : nullptr, c.N, c.V, pool);
      auto X = toDouble(x);
      std::string what =
          "N=" + std::to_string(c.N) + " V=" + std::to_string(c.V) +
          (c.weighted ? " weighted" : "") + " [" + isaName(isa) + "]";
      double ref = refCrossEntropy(c.N, c.V, X, t, wp);
      EXPECT_NEAR(loss, ref, 1e-5 * std::fabs(ref) + 1e-6) << what;
      const float dloss = 0.7f;
      crossEntropyBackward(dx.data(), x.data(), lse.data(), t.data(),
                           wp ? w.data() : nullptr, c.N, c.V, dloss, pool);
      auto num = numericGradient(X, [&](const std::vector<double> &v) {
        return dloss * refCrossEntropy(c.N, c.V, v, t, wp);
      });
      expectClose(dx, num, 1e-5, 1e-3, "cross-entropy dlogits " + what);
      // In place (dlogits aliasing logits) gives the same result.
      std::vector<float> inplace = x;
      crossEntropyBackward(inplace.data(), inplace.data(), lse.data(), t.data(),
                           wp ? w.data() : nullptr, c.N, c.V, dloss, pool);
      EXPECT_EQ(inplace, dx) << what;
    }
  }
}

TEST(CrossEntropy, LargeVocabularyForward) {
  ThreadPool pool(2);
  const int64_t N = 3, V = 50257;
  auto x = randomVector(N * V, 5, 10.0f);
  std::vector<int32_t> t = {0, 50256, 12345};
  std::vector<float> lse(N);
  float loss = crossEntropyForward(nullptr, lse.data(), x.data(), t.data(),
                                   nullptr, N, V, pool);
  double ref = refCrossEntropy(N, V, toDouble(x), t, nullptr);
  EXPECT_NEAR(loss, ref, 1e-5 * std::fabs(ref));
}

TEST(CrossEntropy, RejectsTargetOutsideVocabulary) {
  ThreadPool pool(1);
  std::vector<float> x(2 * 4, 0.0f), lse(2);
  std::vector<int32_t> t = {1, 4};
  EXPECT_THROW(crossEntropyForward(nullptr, lse.data(), x.data(), t.data(),
                                   nullptr, 2, 4, pool),
               std::out_of_range);
}

TEST(CrossEntropy, AllIgnoredGivesZeroLossAndGradient) {
  ThreadPool pool(1);
  std::vector<float> x = randomVector(2 * 5, 6), lse(2), dx(10, 3.0f);
  std::vector<int32_t> t = {-1, -1};
  EXPECT_EQ(crossEntropyForward(nullptr, lse.data(), x.data(), t.data(),
                                nullptr, 2, 5, pool),
            0.0f);
  crossEntropyBackward(dx.data(), x.data(), lse.data(), t.data(), nullptr, 2, 5,
                       1.0f, pool);
  for (float d : dx)
    EXPECT_EQ(d, 0.0f);
}

TEST(Softmax, IsasAgreeAndDeterministic) {
  const int64_t N = 33, V = 515;
  auto x = randomVector(N * V, 7, 6.0f), dy = randomVector(N * V, 8);
  std::vector<int32_t> t(N);
  for (int64_t i = 0; i < N; ++i)
    t[i] = static_cast<int32_t>((i * 31) % V);
  auto w = randomVector(N, 9);
  for (float &wi : w)
    wi = std::fabs(wi);
  KernelRun run = [&](ThreadPool &pool) {
    std::vector<float> y(x.size()), dx(x.size()), lse(N), losses(N),
        dl(x.size());
    softmaxForward(y.data(), x.data(), N, V, pool);
    softmaxBackward(dx.data(), dy.data(), y.data(), N, V, pool);
    std::vector<float> loss = {crossEntropyForward(
        losses.data(), lse.data(), x.data(), t.data(), w.data(), N, V, pool)};
    crossEntropyBackward(dl.data(), x.data(), lse.data(), t.data(), w.data(), N,
                         V, 1.0f, pool);
    return concat({&y, &dx, &lse, &losses, &loss, &dl});
  };
  expectIsasAgree(run, 1e-6, 1e-5, "softmax/cross-entropy");
  expectDeterministic(run, "softmax/cross-entropy");
}

} // namespace
} // namespace gpt::cpu::test
