//===- LayerNorm.cpp - Layer normalization, fwd/bwd -----------------------===//
//
// Forward: one row at a time, two passes (mean, then variance of the
// centred values), in float with vectorized fixed-order reductions.
// Backward (per row, xhat = (x - mean) * rstd, g = dout * gamma):
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
//   dgamma += dout * xhat, dbeta += dout   (summed over rows)
// dgamma/dbeta: each fixed block of rows writes its own partial sums, which
// are then added in block order, so the result does not depend on threads.
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/LayerNorm.h"

#include "runtime/cpu/Scratch.h"

#include <cmath>
#include <cstring>

#include "runtime/cpu/IsaDispatch.h"

namespace gpt::cpu {
namespace {
constexpr int64_t kRowsPerBlock = 32;
}
} // namespace gpt::cpu

GPT_CPU_ISA_BEGIN

void layernormForward(float *out, float *mean, float *rstd, const float *x,
                      const float *gamma, const float *beta, int64_t rows,
                      int64_t C, float eps, ThreadPool &pool) {
  pool.parallelFor(rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float *xr = x + r * C;
      float *yr = out + r * C;
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int64_t i = 0; i < C; ++i)
        sum += xr[i];
      float m = sum / static_cast<float>(C);
      float var = 0.0f;
#pragma omp simd reduction(+ : var)
      for (int64_t i = 0; i < C; ++i)
        var += (xr[i] - m) * (xr[i] - m);
      float s = 1.0f / std::sqrt(var / static_cast<float>(C) + eps);
      if (beta) {
#pragma omp simd
        for (int64_t i = 0; i < C; ++i)
          yr[i] = (xr[i] - m) * s * gamma[i] + beta[i];
      } else {
#pragma omp simd
        for (int64_t i = 0; i < C; ++i)
          yr[i] = (xr[i] - m) * s * gamma[i];
      }
      mean[r] = m;
      rstd[r] = s;
    }
  });
}

void layernormBackward(float *dx, float *dgamma, float *dbeta,
                       const float *dout, const float *x, const float *gamma,
                       const float *mean, const float *rstd, int64_t rows,
                       int64_t C, bool accumulate, ThreadPool &pool) {
  const int64_t blocks = numChunks(rows, kRowsPerBlock);
  // Per block partial sums: [blocks][2][C] (dgamma, dbeta).
  static thread_local Scratch scratch;
  float *partial = scratch.get(static_cast<size_t>(blocks) * 2 * C);
  std::memset(partial, 0, static_cast<size_t>(blocks) * 2 * C * sizeof(float));
  pool.parallelFor(rows, kRowsPerBlock, [&](int64_t begin, int64_t end) {
    float *pg = partial + (begin / kRowsPerBlock) * 2 * C;
    float *pb = pg + C;
    for (int64_t r = begin; r < end; ++r) {
      const float *xr = x + r * C;
      const float *dy = dout + r * C;
      float *dxr = dx + r * C;
      const float m = mean[r], s = rstd[r];
      // 16 independent lanes, combined in a fixed order: vectorizes in every
      // build (GCC leaves the equivalent `omp simd` reduction scalar here).
      float laneG[16] = {}, laneGX[16] = {};
      int64_t i = 0;
      for (; i + 16 <= C; i += 16)
        for (int j = 0; j < 16; ++j) {
          float g = dy[i + j] * gamma[i + j];
          laneG[j] += g;
          laneGX[j] += g * ((xr[i + j] - m) * s);
        }
      for (int j = 0; i < C; ++i, ++j) {
        float g = dy[i] * gamma[i];
        laneG[j] += g;
        laneGX[j] += g * ((xr[i] - m) * s);
      }
      float sumG = 0.0f, sumGX = 0.0f;
      for (int j = 0; j < 16; ++j) {
        sumG += laneG[j];
        sumGX += laneGX[j];
      }
      const float meanG = sumG / static_cast<float>(C);
      const float meanGX = sumGX / static_cast<float>(C);
#pragma omp simd
      for (int64_t i = 0; i < C; ++i) {
        float xhat = (xr[i] - m) * s;
        float d = dy[i];
        pg[i] += d * xhat;
        pb[i] += d;
        dxr[i] = s * (d * gamma[i] - meanG - xhat * meanGX);
      }
    }
  });
  pool.parallelFor(C, 256, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float g = accumulate ? dgamma[i] : 0.0f;
      float b = (accumulate && dbeta) ? dbeta[i] : 0.0f;
      for (int64_t blk = 0; blk < blocks; ++blk) {
        g += partial[(blk * 2) * C + i];
        b += partial[(blk * 2 + 1) * C + i];
      }
      dgamma[i] = g;
      if (dbeta)
        dbeta[i] = b;
    }
  });
}

GPT_CPU_ISA_END

#if GPT_CPU_ISA_PRIMARY
namespace gpt::cpu {
GPT_CPU_DECLARE_ISA(layernormForward)
GPT_CPU_DECLARE_ISA(layernormBackward)

void layernormForward(float *out, float *mean, float *rstd, const float *x,
                      const float *gamma, const float *beta, int64_t rows,
                      int64_t C, float eps, ThreadPool &pool) {
  GPT_CPU_DISPATCH(layernormForward)
  (out, mean, rstd, x, gamma, beta, rows, C, eps, pool);
}

void layernormBackward(float *dx, float *dgamma, float *dbeta,
                       const float *dout, const float *x, const float *gamma,
                       const float *mean, const float *rstd, int64_t rows,
                       int64_t C, bool accumulate, ThreadPool &pool) {
  GPT_CPU_DISPATCH(layernormBackward)
  (dx, dgamma, dbeta, dout, x, gamma, mean, rstd, rows, C, accumulate, pool);
}
} // namespace gpt::cpu
#endif
