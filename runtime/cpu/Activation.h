//===- Activation.h - GELU, fused bias + GELU, residual add, fwd/bwd ------===//
//
// GELU uses the tanh form (GPT-2):
//   gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// All tensors are contiguous fp32; n is the element count.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/cpu/ThreadPool.h"

#include <cstdint>

namespace gpt::cpu {

/// out[i] = gelu(x[i]). out may alias x.
void geluForward(float *out, const float *x, int64_t n,
                 ThreadPool &pool = ThreadPool::global());

/// dx[i] = dout[i] * gelu'(x[i]) (overwritten). dx may alias dout.
void geluBackward(float *dx, const float *dout, const float *x, int64_t n,
                  ThreadPool &pool = ThreadPool::global());

/// out[r, c] = gelu(x[r, c] + bias[c]) over [rows, C]. out may alias x.
void biasGeluForward(float *out, const float *x, const float *bias,
                     int64_t rows, int64_t C,
                     ThreadPool &pool = ThreadPool::global());

/// Backward of biasGeluForward given x (pre-bias input) and dout[rows, C]:
/// dx[r, c] = dout[r, c] * gelu'(x[r, c] + bias[c]) (overwritten; may alias
/// dout) and dbias[c] = sum over rows of dx[:, c] (added to dbias if
/// accumulate, else overwritten; null to skip).
void biasGeluBackward(float *dx, float *dbias, const float *dout,
                      const float *x, const float *bias, int64_t rows,
                      int64_t C, bool accumulate,
                      ThreadPool &pool = ThreadPool::global());

/// out[i] = a[i] + b[i]. out may alias a or b.
void residualForward(float *out, const float *a, const float *b, int64_t n,
                     ThreadPool &pool = ThreadPool::global());

/// da[i] (+)= dout[i], db[i] (+)= dout[i]: the gradient of an add flows
/// unchanged to both inputs; with accumulate it is added to da/db (the usual
/// case for a residual stream), otherwise copied. da or db may be null.
void residualBackward(float *da, float *db, const float *dout, int64_t n,
                      bool accumulate, ThreadPool &pool = ThreadPool::global());

} // namespace gpt::cpu
