//===- MatmulTest.cpp - gemm and linear layer tests ----------------------===//
//
// Tolerances: forward atol 1e-5 * K, rtol 1e-4 (fp32 accumulation over K
// terms of magnitude <= 1); backward vs finite differences atol 1e-4, rtol
// 1e-3; ISA agreement atol 1e-5 * K, rtol 1e-4.
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/Matmul.h"

#include "TestUtil.h"

#include <cmath>
#include <limits>

namespace gpt::cpu::test {
namespace {

struct GemmCase {
  bool ta, tb;
  int64_t M, N, K;
  float alpha, beta;
  int64_t pad; // extra elements per row of A, B and C (strides > width)
};

std::vector<double> refGemm(const GemmCase &c, const std::vector<float> &A,
                            int64_t lda, const std::vector<float> &B,
                            int64_t ldb, const std::vector<float> &C0,
                            int64_t ldc) {
  std::vector<double> C(C0.begin(), C0.end());
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = 0; j < c.N; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < c.K; ++k) {
        double a = c.ta ? A[k * lda + i] : A[i * lda + k];
        double b = c.tb ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
      }
      double old = c.beta == 0.0f ? 0.0 : c.beta * C[i * ldc + j];
      C[i * ldc + j] = c.alpha * s + old;
    }
  return C;
}

std::vector<float> runGemm(const GemmCase &c, const std::vector<float> &A,
                           int64_t lda, const std::vector<float> &B,
                           int64_t ldb, std::vector<float> C, int64_t ldc,
                           ThreadPool &pool) {
  gemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta,
       C.data(), ldc, pool);
  return C;
}

std::vector<GemmCase> gemmCases() {
  std::vector<GemmCase> cases;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      cases.push_back({ta, tb, 1, 1, 1, 1.0f, 0.0f, 0});
      cases.push_back({ta, tb, 7, 13, 5, 1.0f, 0.0f, 3});
      cases.push_back({ta, tb, 33, 17, 300, 0.5f, 1.0f, 1});
      cases.push_back({ta, tb, 130, 70, 257, -1.25f, 0.25f, 0});
      cases.push_back({ta, tb, 100, 300, 64, 1.0f, 0.0f, 5});
    }
  cases.push_back({false, false, 5, 9, 0, 1.0f, 0.5f, 0}); // K == 0
  cases.push_back({false, true, 250, 520, 600, 1.0f, 1.0f, 0});
  return cases;
}

struct GemmData {
  std::vector<float> A, B, C;
  int64_t lda, ldb, ldc;
};

GemmData makeData(const GemmCase &c, uint32_t seed) {
  GemmData d;
  int64_t aRows = c.ta ? c.K : c.M, aCols = c.ta ? c.M : c.K;
  int64_t bRows = c.tb ? c.N : c.K, bCols = c.tb ? c.K : c.N;
  d.lda = aCols + c.pad;
  d.ldb = bCols + c.pad;
  d.ldc = c.N + c.pad;
  d.A = randomVector(aRows * d.lda, seed);
  d.B = randomVector(bRows * d.ldb, seed + 1);
  d.C = randomVector(c.M * d.ldc, seed + 2);
  return d;
}

std::string caseName(const GemmCase &c) {
  return "gemm ta=" + std::to_string(c.ta) + " tb=" + std::to_string(c.tb) +
         " M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) +
         " K=" + std::to_string(c.K);
}

TEST(Matmul, GemmMatchesDoubleReferenceOnEveryIsa) {
  ThreadPool pool(2);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    uint32_t seed = 1;
    for (const GemmCase &c : gemmCases()) {
      GemmData d = makeData(c, seed += 3);
      std::vector<double> ref = refGemm(c, d.A, d.lda, d.B, d.ldb, d.C, d.ldc);
      std::vector<float> got =
          runGemm(c, d.A, d.lda, d.B, d.ldb, d.C, d.ldc, pool);
      expectClose(got, ref, 1e-5 * (c.K + 1), 1e-4,
                  caseName(c) + " [" + isaName(isa) + "]");
    }
  }
}

/// Whether gemm on `pool` gives gemmSerial's bits (which always packs, one
/// block after another) for case c.
::testing::AssertionResult
sameBitsAsSerial(const GemmCase &c, const GemmData &d, ThreadPool &pool) {
  std::vector<float> got = runGemm(c, d.A, d.lda, d.B, d.ldb, d.C, d.ldc, pool);
  std::vector<float> serial = d.C;
  gemmSerial(c.ta, c.tb, c.M, c.N, c.K, c.alpha, d.A.data(), d.lda, d.B.data(),
             d.ldb, c.beta, serial.data(), d.ldc);
  if (std::memcmp(got.data(), serial.data(), serial.size() * sizeof(float)))
    return ::testing::AssertionFailure() << caseName(c) << " differs";
  return ::testing::AssertionSuccess();
}

TEST(Matmul, GemmSerialIsBitIdenticalToThreaded) {
  ThreadPool pool(3);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    GemmCase c{false, true, 130, 200, 300, 1.0f, 0.5f, 0};
    EXPECT_TRUE(sameBitsAsSerial(c, makeData(c, 7), pool)) << isaName(isa);
  }
}

// Fewer rows than the micro-tile with B transposed (decode) takes the path
// that reads B unpacked: it must give the packed path's bits (gemmSerial
// always packs), with column and K tails, beta 0 and 1, padded strides.
TEST(Matmul, FewRowsPathIsBitIdenticalToPacked) {
  ThreadPool pool(2);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    uint32_t seed = 11;
    for (int64_t M : {1, 3, 8, 11})
      for (auto [N, K] : std::vector<std::pair<int64_t, int64_t>>{
               {47, 300}, {64, 256}, {2304, 768}, {5, 17}})
        for (float beta : {0.0f, 1.0f}) {
          GemmCase c{false, true, M, N, K, 0.5f, beta, 3};
          EXPECT_TRUE(sameBitsAsSerial(c, makeData(c, seed += 5), pool))
              << isaName(isa);
        }
  }
}

TEST(Matmul, BetaZeroIgnoresNaNInC) {
  GemmCase c{false, false, 9, 40, 11, 1.0f, 0.0f, 0};
  GemmData d = makeData(c, 3);
  std::fill(d.C.begin(), d.C.end(), std::numeric_limits<float>::quiet_NaN());
  ThreadPool pool(2);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    std::vector<float> got =
        runGemm(c, d.A, d.lda, d.B, d.ldb, d.C, d.ldc, pool);
    for (float x : got)
      ASSERT_FALSE(std::isnan(x)) << isaName(isa);
  }
}

TEST(Matmul, GemmIsasAgreeAndDeterministic) {
  GemmCase c{true, false, 131, 77, 513, 1.0f, 1.0f, 2};
  GemmData d = makeData(c, 11);
  KernelRun run = [&](ThreadPool &pool) {
    return runGemm(c, d.A, d.lda, d.B, d.ldb, d.C, d.ldc, pool);
  };
  expectIsasAgree(run, 1e-5 * c.K, 1e-4, "gemm");
  expectDeterministic(run, "gemm");
}

// ---- linear layer ---------------------------------------------------------

struct LinearShape {
  int64_t rows, inF, outF;
};

std::vector<double> refLinear(const LinearShape &s,
                              const std::vector<double> &x,
                              const std::vector<double> &w,
                              const std::vector<double> &b) {
  std::vector<double> y(s.rows * s.outF);
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t o = 0; o < s.outF; ++o) {
      double acc = b.empty() ? 0.0 : b[o];
      for (int64_t i = 0; i < s.inF; ++i)
        acc += x[r * s.inF + i] * w[o * s.inF + i];
      y[r * s.outF + o] = acc;
    }
  return y;
}

TEST(Matmul, LinearForwardMatchesReference) {
  ThreadPool pool(2);
  for (LinearShape s : {LinearShape{1, 1, 1}, LinearShape{7, 13, 9},
                        LinearShape{65, 96, 130}}) {
    for (bool withBias : {false, true}) {
      auto x = randomVector(s.rows * s.inF, 1);
      auto w = randomVector(s.outF * s.inF, 2);
      auto b = randomVector(s.outF, 3);
      std::vector<float> y(s.rows * s.outF, 123.0f);
      linearForward(y.data(), x.data(), w.data(), withBias ? b.data() : nullptr,
                    s.rows, s.inF, s.outF, pool);
      auto ref = refLinear(s, toDouble(x), toDouble(w),
                           withBias ? toDouble(b) : std::vector<double>());
      expectClose(y, ref, 1e-5 * s.inF, 1e-4, "linearForward");
    }
  }
}

TEST(Matmul, LinearBackwardMatchesFiniteDifferences) {
  ThreadPool pool(2);
  for (LinearShape s :
       {LinearShape{1, 1, 1}, LinearShape{5, 7, 3}, LinearShape{19, 33, 17}}) {
    auto x = randomVector(s.rows * s.inF, 4);
    auto w = randomVector(s.outF * s.inF, 5);
    auto b = randomVector(s.outF, 6);
    auto dout = randomVector(s.rows * s.outF, 7);
    std::vector<float> dx(x.size()), dw(w.size()), db(b.size());
    linearBackward(dx.data(), dw.data(), db.data(), dout.data(), x.data(),
                   w.data(), s.rows, s.inF, s.outF, false, pool);
    auto X = toDouble(x), W = toDouble(w), Bv = toDouble(b);
    expectClose(dx,
                numericGradient(X,
                                [&](const std::vector<double> &v) {
                                  return dotWeights(refLinear(s, v, W, Bv),
                                                    dout);
                                }),
                1e-4, 1e-3, "linear dinp");
    expectClose(dw,
                numericGradient(W,
                                [&](const std::vector<double> &v) {
                                  return dotWeights(refLinear(s, X, v, Bv),
                                                    dout);
                                }),
                1e-4, 1e-3, "linear dweight");
    expectClose(db,
                numericGradient(Bv,
                                [&](const std::vector<double> &v) {
                                  return dotWeights(refLinear(s, X, W, v),
                                                    dout);
                                }),
                1e-4, 1e-3, "linear dbias");
    // accumulate adds to what is there.
    std::vector<float> dw2(w.size(), 1.0f), db2(b.size(), 2.0f);
    linearBackward(nullptr, dw2.data(), db2.data(), dout.data(), x.data(),
                   w.data(), s.rows, s.inF, s.outF, true, pool);
    for (size_t i = 0; i < dw.size(); ++i)
      ASSERT_NEAR(dw2[i], dw[i] + 1.0f, 1e-5);
    for (size_t i = 0; i < db.size(); ++i)
      ASSERT_NEAR(db2[i], db[i] + 2.0f, 1e-5);
  }
}

TEST(Matmul, LinearBackwardIsasAgreeAndDeterministic) {
  LinearShape s{70, 100, 90};
  auto x = randomVector(s.rows * s.inF, 8);
  auto w = randomVector(s.outF * s.inF, 9);
  auto dout = randomVector(s.rows * s.outF, 10);
  KernelRun run = [&](ThreadPool &pool) {
    std::vector<float> dx(x.size()), dw(w.size()), db(s.outF);
    linearBackward(dx.data(), dw.data(), db.data(), dout.data(), x.data(),
                   w.data(), s.rows, s.inF, s.outF, false, pool);
    return concat({&dx, &dw, &db});
  };
  expectIsasAgree(run, 1e-4, 1e-4, "linearBackward");
  expectDeterministic(run, "linearBackward");
}

} // namespace
} // namespace gpt::cpu::test
