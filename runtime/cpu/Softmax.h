//===- Softmax.h - Softmax and fused softmax + cross-entropy, fwd/bwd -----===//
#pragma once

#include "runtime/cpu/ThreadPool.h"

#include <cstdint>

namespace gpt::cpu {

/// out[r, :] = softmax(x[r, :]) over the last axis of [rows, C]. Entries of
/// -inf get probability 0 (a row of all -inf gives NaN, as in PyTorch).
/// out may alias x.
void softmaxForward(float *out, const float *x, int64_t rows, int64_t C,
                    ThreadPool &pool = ThreadPool::global());

/// dx = y * (dy - sum(dy * y)) per row, with y the forward output.
/// dx is overwritten and may alias dy.
void softmaxBackward(float *dx, const float *dy, const float *y, int64_t rows,
                     int64_t C, ThreadPool &pool = ThreadPool::global());

/// Fused softmax + cross-entropy over logits [N, V] with integer targets [N]
/// and optional per-token weights [N] (null = all 1):
///   loss_i = logsumexp(logits[i, :]) - logits[i, targets[i]]
///   result = sum_i w_i loss_i / sum_i w_i        (0 if sum_i w_i == 0)
/// A negative target marks an ignored token (weight 0, loss_i = 0).
/// Writes lse[N] (saved for the backward pass) and, if non-null,
/// losses[N] (per-token, unweighted). Throws std::out_of_range if a target
/// is >= V (checked before anything is written).
float crossEntropyForward(float *losses, float *lse, const float *logits,
                          const int32_t *targets, const float *weights,
                          int64_t N, int64_t V,
                          ThreadPool &pool = ThreadPool::global());

/// Gradient of dloss * crossEntropyForward(...) with respect to the logits:
///   dlogits[i, v] = dloss * w_i / sum(w) * (softmax(logits[i])[v] - [v ==
///   t_i])
/// using the saved lse. dlogits is overwritten and may alias logits.
void crossEntropyBackward(float *dlogits, const float *logits, const float *lse,
                          const int32_t *targets, const float *weights,
                          int64_t N, int64_t V, float dloss,
                          ThreadPool &pool = ThreadPool::global());

} // namespace gpt::cpu
