//===- Optimizer.h - AdamW and global gradient-norm clipping --------------===//
#pragma once

#include "runtime/cpu/ThreadPool.h"

#include <cstdint>

namespace gpt::cpu {

/// Hyper-parameters of one AdamW step.
struct AdamWParams {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weightDecay = 0.0f; ///< decoupled (AdamW), applied as lr * wd * p
  int64_t step = 1;         ///< 1-based step number, for bias correction
  float gradScale = 1.0f;   ///< gradients are multiplied by this first
                            ///< (e.g. the clipping factor)
};

/// One AdamW update of n parameters, in place (PyTorch's AdamW):
///   g = gradScale * grad
///   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
///   mhat = m / (1 - beta1^step);   vhat = v / (1 - beta2^step)
///   param -= lr * (mhat / (sqrt(vhat) + eps) + weightDecay * param)
/// Throws std::invalid_argument if step < 1.
void adamwUpdate(float *param, const float *grad, float *m, float *v, int64_t n,
                 const AdamWParams &hp,
                 ThreadPool &pool = ThreadPool::global());

/// A tensor taking part in a global reduction.
struct TensorSpan {
  float *data;
  int64_t size;
};

/// sqrt of the sum of squares of all elements of all tensors (accumulated
/// in double, in a fixed order: deterministic for any thread count).
double globalGradNorm(const TensorSpan *tensors, int64_t count,
                      ThreadPool &pool = ThreadPool::global());

/// The factor to scale gradients by to clip their norm to maxNorm:
/// min(1, maxNorm / (norm + 1e-6)); 1 if maxNorm <= 0 (clipping off).
float clipScale(double norm, float maxNorm);

/// Multiplies every element of every tensor by scale.
void scaleTensors(const TensorSpan *tensors, int64_t count, float scale,
                  ThreadPool &pool = ThreadPool::global());

} // namespace gpt::cpu
