//===- Softmax.cpp - Softmax and fused softmax + cross-entropy ------------===//
//
// Rows are independent; each is reduced in a fixed order (max, then sum of
// exp(x - max)). The cross-entropy mean is summed over tokens in order, in
// double, on the calling thread.
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/Softmax.h"

#include "runtime/cpu/VecMath.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "runtime/cpu/IsaDispatch.h"

namespace gpt::cpu {
namespace {
/// Validates targets and returns sum of weights of non-ignored tokens.
double tokenWeightSum(const int32_t *targets, const float *weights, int64_t N,
                      int64_t V) {
  double sum = 0.0;
  for (int64_t i = 0; i < N; ++i) {
    if (targets[i] >= V)
      throw std::out_of_range("cross-entropy: target " +
                              std::to_string(targets[i]) + " at position " +
                              std::to_string(i) +
                              " is outside the vocabulary "
                              "of size " +
                              std::to_string(V));
    if (targets[i] >= 0)
      sum += weights ? weights[i] : 1.0f;
  }
  return sum;
}
} // namespace
} // namespace gpt::cpu

GPT_CPU_ISA_BEGIN

namespace {
/// Returns max(x) and sets *sumExp = sum(exp(x - max)).
float rowMaxSumExp(const float *x, int64_t C, float *sumExp) {
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < C; ++i)
    m = x[i] > m ? x[i] : m;
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < C; ++i)
    s += expApprox(x[i] - m);
  *sumExp = s;
  return m;
}
} // namespace

void softmaxForward(float *out, const float *x, int64_t rows, int64_t C,
                    ThreadPool &pool) {
  pool.parallelFor(rows, 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float *xr = x + r * C;
      float *yr = out + r * C;
      float s;
      float m = rowMaxSumExp(xr, C, &s);
      float inv = 1.0f / s;
#pragma omp simd
      for (int64_t i = 0; i < C; ++i)
        yr[i] = expApprox(xr[i] - m) * inv;
    }
  });
}

void softmaxBackward(float *dx, const float *dy, const float *y, int64_t rows,
                     int64_t C, ThreadPool &pool) {
  pool.parallelFor(rows, 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float *yr = y + r * C;
      const float *dyr = dy + r * C;
      float *dxr = dx + r * C;
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int64_t i = 0; i < C; ++i)
        dot += dyr[i] * yr[i];
#pragma omp simd
      for (int64_t i = 0; i < C; ++i)
        dxr[i] = yr[i] * (dyr[i] - dot);
    }
  });
}

float crossEntropyForward(float *losses, float *lse, const float *logits,
                          const int32_t *targets, const float *weights,
                          int64_t N, int64_t V, ThreadPool &pool) {
  const double weightSum = tokenWeightSum(targets, weights, N, V);
  pool.parallelFor(N, 4, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float *xr = logits + i * V;
      float s;
      float m = rowMaxSumExp(xr, V, &s);
      lse[i] = m + std::log(s);
      if (losses)
        losses[i] = targets[i] < 0 ? 0.0f : lse[i] - xr[targets[i]];
    }
  });
  if (weightSum == 0.0)
    return 0.0f;
  double total = 0.0;
  for (int64_t i = 0; i < N; ++i)
    if (targets[i] >= 0)
      total += static_cast<double>(weights ? weights[i] : 1.0f) *
               (static_cast<double>(lse[i]) - logits[i * V + targets[i]]);
  return static_cast<float>(total / weightSum);
}

void crossEntropyBackward(float *dlogits, const float *logits, const float *lse,
                          const int32_t *targets, const float *weights,
                          int64_t N, int64_t V, float dloss, ThreadPool &pool) {
  const double weightSum = tokenWeightSum(targets, weights, N, V);
  pool.parallelFor(N, 4, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float *xr = logits + i * V;
      float *dr = dlogits + i * V;
      const int32_t t = targets[i];
      const float scale =
          (t < 0 || weightSum == 0.0)
              ? 0.0f
              : static_cast<float>(dloss * (weights ? weights[i] : 1.0f) /
                                   weightSum);
      const float l = lse[i];
      if (scale == 0.0f) {
#pragma omp simd
        for (int64_t v = 0; v < V; ++v)
          dr[v] = 0.0f;
        continue;
      }
#pragma omp simd
      for (int64_t v = 0; v < V; ++v)
        dr[v] = scale * expApprox(xr[v] - l);
      dr[t] -= scale;
    }
  });
}

GPT_CPU_ISA_END

#if GPT_CPU_ISA_PRIMARY
namespace gpt::cpu {
GPT_CPU_DECLARE_ISA(softmaxForward)
GPT_CPU_DECLARE_ISA(softmaxBackward)
GPT_CPU_DECLARE_ISA(crossEntropyForward)
GPT_CPU_DECLARE_ISA(crossEntropyBackward)

void softmaxForward(float *out, const float *x, int64_t rows, int64_t C,
                    ThreadPool &pool) {
  GPT_CPU_DISPATCH(softmaxForward)(out, x, rows, C, pool);
}
void softmaxBackward(float *dx, const float *dy, const float *y, int64_t rows,
                     int64_t C, ThreadPool &pool) {
  GPT_CPU_DISPATCH(softmaxBackward)(dx, dy, y, rows, C, pool);
}
float crossEntropyForward(float *losses, float *lse, const float *logits,
                          const int32_t *targets, const float *weights,
                          int64_t N, int64_t V, ThreadPool &pool) {
  return GPT_CPU_DISPATCH(crossEntropyForward)(losses, lse, logits, targets,
                                               weights, N, V, pool);
}
void crossEntropyBackward(float *dlogits, const float *logits, const float *lse,
                          const int32_t *targets, const float *weights,
                          int64_t N, int64_t V, float dloss, ThreadPool &pool) {
  GPT_CPU_DISPATCH(crossEntropyBackward)
  (dlogits, logits, lse, targets, weights, N, V, dloss, pool);
}
} // namespace gpt::cpu
#endif
