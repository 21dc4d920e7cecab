//===- Embedding.h - Token + position embedding, fwd/bwd ------------------===//
#pragma once

#include "runtime/cpu/ThreadPool.h"

#include <cstdint>

namespace gpt::cpu {

/// out[b, t, :] = wte[tokens[b, t], :] + wpe[t, :]
/// tokens [B, T] (int32), wte [V, C], wpe [maxT, C], out [B, T, C].
/// Throws std::out_of_range (before writing) if T > maxT or a token is
/// outside [0, V).
void embeddingForward(float *out, const int32_t *tokens, const float *wte,
                      const float *wpe, int64_t B, int64_t T, int64_t C,
                      int64_t V, int64_t maxT,
                      ThreadPool &pool = ThreadPool::global());

/// Scatter-add backward of embeddingForward given dout [B, T, C]:
///   dwte[tokens[b, t], :] += dout[b, t, :],  dwpe[t, :] += dout[b, t, :]
/// Without accumulate, dwte [V, C] and dwpe [maxT, C] are zeroed first
/// (all of them). Either may be null. Deterministic: each task owns a slice
/// of channels and adds the (b, t) rows in order. Throws like the forward.
void embeddingBackward(float *dwte, float *dwpe, const float *dout,
                       const int32_t *tokens, int64_t B, int64_t T, int64_t C,
                       int64_t V, int64_t maxT, bool accumulate,
                       ThreadPool &pool = ThreadPool::global());

} // namespace gpt::cpu
