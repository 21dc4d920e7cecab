//===- Sampler.h ------------------------------------------------*- C++ -*-===//
//
// The one token sampler (the engine's: `gpt serve`, `gpt chat`,
// `gpt generate`): penalties, logit bias, temperature, top-k, top-p, drawn
// from the request's own SplitMix64 stream (no std:: distributions), so a
// seed gives the same tokens on every platform and in any batch.
#pragma once

#include "runtime/engine/Request.h"

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace gpt {

/// SplitMix64: the next uniform double in [0, 1) from `state`.
double uniformDraw(uint64_t &state);

/// Picks the next token from `logits` [V]. `counts` holds how often each
/// token was generated so far (for the presence/frequency penalties);
/// `scratch` is reused between calls. Temperature 0 picks the argmax (ties:
/// the lowest id) after penalties and bias; otherwise softmax(x / T) over
/// the top-k ids (if set), then the smallest most likely set whose mass
/// reaches top-p (ties by id), drawn with uniformDraw(rng).
int32_t sampleToken(const SamplingParams &params,
                    const std::unordered_map<int32_t, int> &counts,
                    const float *logits, int64_t V, uint64_t &rng,
                    std::vector<float> &scratch);

} // namespace gpt
