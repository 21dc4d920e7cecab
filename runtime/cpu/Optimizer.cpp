//===- Optimizer.cpp - AdamW and global gradient-norm clipping ------------===//
#include "runtime/cpu/Optimizer.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/cpu/IsaDispatch.h"

namespace gpt::cpu {
namespace {
constexpr int64_t kGrain = 16384;
}

} // namespace gpt::cpu

GPT_CPU_ISA_BEGIN

void adamwUpdate(float *param, const float *grad, float *m, float *v, int64_t n,
                 const AdamWParams &hp, ThreadPool &pool) {
  if (hp.step < 1)
    throw std::invalid_argument("adamwUpdate: step must be >= 1, got " +
                                std::to_string(hp.step));
  const float b1 = hp.beta1, b2 = hp.beta2;
  const float corr1 = static_cast<float>(
      1.0 / (1.0 - std::pow(static_cast<double>(b1), hp.step)));
  const float corr2 = static_cast<float>(
      1.0 / (1.0 - std::pow(static_cast<double>(b2), hp.step)));
  const float lr = hp.lr, eps = hp.eps, wd = hp.weightDecay;
  const float gs = hp.gradScale;
  pool.parallelFor(n, kGrain, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      float g = gs * grad[i];
      float mi = b1 * m[i] + (1.0f - b1) * g;
      float vi = b2 * v[i] + (1.0f - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      float mhat = mi * corr1, vhat = vi * corr2;
      param[i] -= lr * (mhat / (std::sqrt(vhat) + eps) + wd * param[i]);
    }
  });
}

double globalGradNorm(const TensorSpan *tensors, int64_t count,
                      ThreadPool &pool) {
  // Fixed chunks of kGrain elements per tensor; each chunk's sum goes to its
  // own slot, slots are added in order.
  std::vector<int64_t> firstChunk(count + 1, 0);
  for (int64_t t = 0; t < count; ++t)
    firstChunk[t + 1] = firstChunk[t] + numChunks(tensors[t].size, kGrain);
  std::vector<double> partial(firstChunk[count], 0.0);
  for (int64_t t = 0; t < count; ++t) {
    const float *x = tensors[t].data;
    double *slots = partial.data() + firstChunk[t];
    pool.parallelFor(tensors[t].size, kGrain, [&](int64_t begin, int64_t end) {
      // 32 independent double lanes (four AVX-512 vectors): one accumulator
      // would make the loop wait on the add latency instead of memory.
      constexpr int kLanes = 32;
      double lanes[kLanes] = {};
      int64_t i = begin;
      for (; i + kLanes <= end; i += kLanes)
#pragma omp simd
        for (int j = 0; j < kLanes; ++j)
          lanes[j] += static_cast<double>(x[i + j]) * x[i + j];
      double s = 0.0;
      for (int j = 0; j < kLanes; ++j)
        s += lanes[j];
      for (; i < end; ++i)
        s += static_cast<double>(x[i]) * x[i];
      slots[begin / kGrain] = s;
    });
  }
  double total = 0.0;
  for (double s : partial)
    total += s;
  return std::sqrt(total);
}

void scaleTensors(const TensorSpan *tensors, int64_t count, float scale,
                  ThreadPool &pool) {
  for (int64_t t = 0; t < count; ++t) {
    float *x = tensors[t].data;
    pool.parallelFor(tensors[t].size, kGrain, [&](int64_t begin, int64_t end) {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i)
        x[i] *= scale;
    });
  }
}

GPT_CPU_ISA_END

#if GPT_CPU_ISA_PRIMARY
namespace gpt::cpu {
float clipScale(double norm, float maxNorm) {
  if (maxNorm <= 0.0f || !(norm > maxNorm))
    return 1.0f;
  return static_cast<float>(maxNorm / (norm + 1e-6));
}

GPT_CPU_DECLARE_ISA(adamwUpdate)
GPT_CPU_DECLARE_ISA(globalGradNorm)
GPT_CPU_DECLARE_ISA(scaleTensors)

void adamwUpdate(float *param, const float *grad, float *m, float *v, int64_t n,
                 const AdamWParams &hp, ThreadPool &pool) {
  GPT_CPU_DISPATCH(adamwUpdate)(param, grad, m, v, n, hp, pool);
}
double globalGradNorm(const TensorSpan *tensors, int64_t count,
                      ThreadPool &pool) {
  return GPT_CPU_DISPATCH(globalGradNorm)(tensors, count, pool);
}
void scaleTensors(const TensorSpan *tensors, int64_t count, float scale,
                  ThreadPool &pool) {
  GPT_CPU_DISPATCH(scaleTensors)(tensors, count, scale, pool);
}
} // namespace gpt::cpu
#endif
