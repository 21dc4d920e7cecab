//===- TestUtil.h - Helpers for the CPU kernel tests ---------------------===//
//
// Conventions used by every kernel test:
// - forward kernels are checked against a naive double-precision reference
//   with |got - ref| <= atol + rtol * |ref| element-wise;
// - backward kernels are checked against central finite differences (step
//   h = 1e-4) of the double-precision reference of loss = sum(w * out) for a
//   fixed random w, which is also the dout fed to the kernel;
// - every ISA level this CPU has is compared with the scalar build;
// - results must be bit-identical run to run and across pools of 1, 2 and 3
//   threads.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/cpu/Isa.h"
#include "runtime/cpu/ThreadPool.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace gpt::cpu::test {

inline std::vector<float> randomVector(size_t n, uint32_t seed,
                                       float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

inline std::vector<double> toDouble(const std::vector<float> &v) {
  return std::vector<double>(v.begin(), v.end());
}

/// Element-wise |got - ref| <= atol + rtol * |ref|; reports the worst one.
inline void expectClose(const float *got, const double *ref, size_t n,
                        double atol, double rtol, const std::string &what) {
  size_t bad = 0, worst = 0;
  double worstExcess = -1.0;
  for (size_t i = 0; i < n; ++i) {
    double err = std::fabs(static_cast<double>(got[i]) - ref[i]);
    double allowed = atol + rtol * std::fabs(ref[i]);
    if (!(err <= allowed)) {
      ++bad;
      if (err - allowed > worstExcess || std::isnan(err)) {
        worstExcess = err - allowed;
        worst = i;
      }
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << n
                     << " elements out of tolerance (atol " << atol << ", rtol "
                     << rtol << "); worst at " << worst << ": got "
                     << (n ? got[worst] : 0.0f) << ", want "
                     << (n ? ref[worst] : 0.0);
}

inline void expectClose(const std::vector<float> &got,
                        const std::vector<double> &ref, double atol,
                        double rtol, const std::string &what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  expectClose(got.data(), ref.data(), got.size(), atol, rtol, what);
}

inline void expectClose(const std::vector<float> &got,
                        const std::vector<float> &ref, double atol, double rtol,
                        const std::string &what) {
  expectClose(got, toDouble(ref), atol, rtol, what);
}

/// Central finite differences of loss at x, one coordinate at a time.
inline std::vector<double>
numericGradient(std::vector<double> x,
                const std::function<double(const std::vector<double> &)> &loss,
                double h = 1e-4) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    double saved = x[i];
    x[i] = saved + h;
    double up = loss(x);
    x[i] = saved - h;
    double down = loss(x);
    x[i] = saved;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

inline double dotWeights(const std::vector<double> &out,
                         const std::vector<float> &w) {
  double s = 0.0;
  for (size_t i = 0; i < out.size(); ++i)
    s += out[i] * w[i];
  return s;
}

/// The ISA levels this CPU supports, scalar first.
inline std::vector<Isa> availableIsas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (isaSupported(isa))
      out.push_back(isa);
  return out;
}

/// Selects an ISA level for the scope, restoring the previous one.
class IsaScope {
public:
  explicit IsaScope(Isa isa) : previous_(activeIsa()) { setIsa(isa); }
  ~IsaScope() { setIsa(previous_); }

private:
  Isa previous_;
};

/// A kernel run: computes all outputs (concatenated) on the given pool.
using KernelRun = std::function<std::vector<float>(ThreadPool &)>;

/// Every available ISA level against the scalar build.
inline void expectIsasAgree(const KernelRun &run, double atol, double rtol,
                            const std::string &what) {
  ThreadPool pool(2);
  std::vector<float> scalarOut;
  {
    IsaScope scope(Isa::Scalar);
    scalarOut = run(pool);
  }
  for (Isa isa : availableIsas()) {
    if (isa == Isa::Scalar)
      continue;
    IsaScope scope(isa);
    expectClose(run(pool), scalarOut, atol, rtol,
                what + " [" + isaName(isa) + " vs scalar]");
  }
}

/// Bit-identical results: twice on one pool, and on pools of 1, 2, 3
/// threads, for every available ISA level.
inline void expectDeterministic(const KernelRun &run, const std::string &what) {
  ThreadPool p1(1), p2(2), p3(3);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    std::vector<float> a = run(p2), b = run(p2), c = run(p1), d = run(p3);
    ASSERT_EQ(a.size(), b.size());
    auto same = [&](const std::vector<float> &x) {
      return x.size() == a.size() &&
             std::memcmp(x.data(), a.data(), a.size() * sizeof(float)) == 0;
    };
    EXPECT_TRUE(same(b)) << what << " [" << isaName(isa)
                         << "]: two runs on 2 threads differ";
    EXPECT_TRUE(same(c)) << what << " [" << isaName(isa)
                         << "]: 1 thread differs from 2";
    EXPECT_TRUE(same(d)) << what << " [" << isaName(isa)
                         << "]: 3 threads differ from 2";
  }
}

/// Concatenates vectors (kernel outputs) into one.
inline std::vector<float>
concat(std::initializer_list<const std::vector<float> *> parts) {
  std::vector<float> out;
  for (const std::vector<float> *p : parts)
    out.insert(out.end(), p->begin(), p->end());
  return out;
}

} // namespace gpt::cpu::test
