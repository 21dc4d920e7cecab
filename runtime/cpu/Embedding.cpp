//===- Embedding.cpp - Token + position embedding, fwd/bwd ----------------===//
#include "runtime/cpu/Embedding.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "runtime/cpu/IsaDispatch.h"

namespace gpt::cpu {
namespace {
void checkTokens(const int32_t *tokens, int64_t B, int64_t T, int64_t V,
                 int64_t maxT) {
  if (T > maxT)
    throw std::out_of_range("embedding: sequence length " + std::to_string(T) +
                            " exceeds the context of " + std::to_string(maxT));
  for (int64_t i = 0; i < B * T; ++i)
    if (tokens[i] < 0 || tokens[i] >= V)
      throw std::out_of_range(
          "embedding: token id " + std::to_string(tokens[i]) + " at position " +
          std::to_string(i) + " is outside the vocabulary of size " +
          std::to_string(V));
}
constexpr int64_t kChannelsPerTask = 64;
} // namespace
} // namespace gpt::cpu

GPT_CPU_ISA_BEGIN

void embeddingForward(float *out, const int32_t *tokens, const float *wte,
                      const float *wpe, int64_t B, int64_t T, int64_t C,
                      int64_t V, int64_t maxT, ThreadPool &pool) {
  checkTokens(tokens, B, T, V, maxT);
  pool.parallelFor(B * T, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float *te = wte + static_cast<int64_t>(tokens[i]) * C;
      const float *pe = wpe + (i % T) * C;
      float *o = out + i * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c)
        o[c] = te[c] + pe[c];
    }
  });
}

void embeddingBackward(float *dwte, float *dwpe, const float *dout,
                       const int32_t *tokens, int64_t B, int64_t T, int64_t C,
                       int64_t V, int64_t maxT, bool accumulate,
                       ThreadPool &pool) {
  checkTokens(tokens, B, T, V, maxT);
  if (!accumulate) {
    if (dwte)
      pool.parallelFor(V, 256, [&](int64_t begin, int64_t end) {
        std::memset(dwte + begin * C, 0, (end - begin) * C * sizeof(float));
      });
    if (dwpe)
      std::memset(dwpe, 0, maxT * C * sizeof(float));
  }
  pool.parallelFor(C, kChannelsPerTask, [&](int64_t c0, int64_t c1) {
    for (int64_t i = 0; i < B * T; ++i) {
      const float *d = dout + i * C;
      if (dwte) {
        float *te = dwte + static_cast<int64_t>(tokens[i]) * C;
#pragma omp simd
        for (int64_t c = c0; c < c1; ++c)
          te[c] += d[c];
      }
      if (dwpe) {
        float *pe = dwpe + (i % T) * C;
#pragma omp simd
        for (int64_t c = c0; c < c1; ++c)
          pe[c] += d[c];
      }
    }
  });
}

GPT_CPU_ISA_END

#if GPT_CPU_ISA_PRIMARY
namespace gpt::cpu {
GPT_CPU_DECLARE_ISA(embeddingForward)
GPT_CPU_DECLARE_ISA(embeddingBackward)

void embeddingForward(float *out, const int32_t *tokens, const float *wte,
                      const float *wpe, int64_t B, int64_t T, int64_t C,
                      int64_t V, int64_t maxT, ThreadPool &pool) {
  GPT_CPU_DISPATCH(embeddingForward)
  (out, tokens, wte, wpe, B, T, C, V, maxT, pool);
}
void embeddingBackward(float *dwte, float *dwpe, const float *dout,
                       const int32_t *tokens, int64_t B, int64_t T, int64_t C,
                       int64_t V, int64_t maxT, bool accumulate,
                       ThreadPool &pool) {
  GPT_CPU_DISPATCH(embeddingBackward)
  (dwte, dwpe, dout, tokens, B, T, C, V, maxT, accumulate, pool);
}
} // namespace gpt::cpu
#endif
