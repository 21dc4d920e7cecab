//===- Attention.h - Flash-style causal self-attention, fwd/bwd -----------===//
//
// Layout (the one a GPT produces and consumes without permutes):
//   qkv  [B, T, 3, H, Dh]  the fused QKV projection output, i.e. [B, T, 3C]
//                          with C = H * Dh: q at channel offset 0, k at C,
//                          v at 2C, head h at h * Dh within each.
//   out  [B, T, H, Dh]     i.e. [B, T, C], ready for the output projection.
//   lse  [B, H, T]         per-row log-sum-exp of the scaled, masked scores
//                          (saved by the forward for the backward).
//   dqkv [B, T, 3, H, Dh]  like qkv.
//
// out[b, t, h] = sum_{s <= t} softmax_s(scale * q_t . k_s) v_s   (causal)
//
// Tiled (64 x 64 blocks) with an online softmax: no T x T matrix is ever
// stored; memory is O(tile) per thread. The backward recomputes the
// probabilities of each tile from the saved lse.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/cpu/ThreadPool.h"

#include <cstdint>

namespace gpt::cpu {

/// Causal attention forward. scale is usually 1 / sqrt(Dh). Writes out and
/// lse. Tasks: (batch, head, 64-row query block).
void attentionForward(float *out, float *lse, const float *qkv, int64_t B,
                      int64_t T, int64_t H, int64_t Dh, float scale,
                      ThreadPool &pool = ThreadPool::global());

/// Causal attention backward given dout [B, T, H, Dh] and the forward's
/// qkv, out and lse. Overwrites dqkv. Tasks: (batch, head); each owns its
/// slices of dq, dk and dv (deterministic, no atomics).
void attentionBackward(float *dqkv, const float *dout, const float *qkv,
                       const float *out, const float *lse, int64_t B, int64_t T,
                       int64_t H, int64_t Dh, float scale,
                       ThreadPool &pool = ThreadPool::global());

} // namespace gpt::cpu
