//===- LayerNorm.h - Layer normalization over the last axis, fwd/bwd ------===//
#pragma once

#include "runtime/cpu/ThreadPool.h"

#include <cstdint>

namespace gpt::cpu {

/// out[r, :] = (x[r, :] - mean[r]) * rstd[r] * gamma + beta for each of the
/// `rows` rows of C channels (all contiguous, row-major [rows, C]).
/// Saves mean[rows] and rstd[rows] = 1 / sqrt(var + eps) (biased variance)
/// for the backward pass. beta may be null (no shift).
void layernormForward(float *out, float *mean, float *rstd, const float *x,
                      const float *gamma, const float *beta, int64_t rows,
                      int64_t C, float eps,
                      ThreadPool &pool = ThreadPool::global());

/// Backward of layernormForward given dout[rows, C] and the saved mean and
/// rstd: writes dx[rows, C] (overwritten), and dgamma[C], dbeta[C] (added to
/// the buffers' contents if accumulate, otherwise overwritten). dbeta may be
/// null. dx may alias dout.
void layernormBackward(float *dx, float *dgamma, float *dbeta,
                       const float *dout, const float *x, const float *gamma,
                       const float *mean, const float *rstd, int64_t rows,
                       int64_t C, bool accumulate,
                       ThreadPool &pool = ThreadPool::global());

} // namespace gpt::cpu
