//===- Activation.cpp - GELU, fused bias + GELU, residual add -------------===//
//
//   u = sqrt(2/pi) (x + 0.044715 x^3),  t = tanh(u)
//   gelu(x)  = 0.5 x (1 + t)
//   gelu'(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/Activation.h"

#include "runtime/cpu/Scratch.h"
#include "runtime/cpu/VecMath.h"

#include <cstring>

#include "runtime/cpu/IsaDispatch.h"

namespace gpt::cpu {
namespace {
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCoef = 0.044715f;
constexpr int64_t kGrain = 16384; // elements per chunk
constexpr int64_t kRowsPerBlock = 32;
} // namespace
} // namespace gpt::cpu

GPT_CPU_ISA_BEGIN

namespace {
GPT_CPU_ALWAYS_INLINE float gelu(float x) {
  float t = tanhApprox(kSqrt2OverPi * (x + kGeluCoef * x * x * x));
  return 0.5f * x * (1.0f + t);
}

GPT_CPU_ALWAYS_INLINE float geluGrad(float x) {
  float t = tanhApprox(kSqrt2OverPi * (x + kGeluCoef * x * x * x));
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kSqrt2OverPi *
                                 (1.0f + 3.0f * kGeluCoef * x * x);
}
} // namespace

void geluForward(float *out, const float *x, int64_t n, ThreadPool &pool) {
  pool.parallelFor(n, kGrain, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i)
      out[i] = gelu(x[i]);
  });
}

void geluBackward(float *dx, const float *dout, const float *x, int64_t n,
                  ThreadPool &pool) {
  pool.parallelFor(n, kGrain, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i)
      dx[i] = dout[i] * geluGrad(x[i]);
  });
}

void biasGeluForward(float *out, const float *x, const float *bias,
                     int64_t rows, int64_t C, ThreadPool &pool) {
  pool.parallelFor(rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float *xr = x + r * C;
      float *yr = out + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c)
        yr[c] = gelu(xr[c] + bias[c]);
    }
  });
}

void biasGeluBackward(float *dx, float *dbias, const float *dout,
                      const float *x, const float *bias, int64_t rows,
                      int64_t C, bool accumulate, ThreadPool &pool) {
  const int64_t blocks = numChunks(rows, kRowsPerBlock);
  static thread_local Scratch scratch;
  const size_t partialSize = dbias ? static_cast<size_t>(blocks) * C : 0;
  float *partial = scratch.get(partialSize);
  std::memset(partial, 0, partialSize * sizeof(float));
  pool.parallelFor(rows, kRowsPerBlock, [&](int64_t begin, int64_t end) {
    float *pb = dbias ? partial + (begin / kRowsPerBlock) * C : nullptr;
    for (int64_t r = begin; r < end; ++r) {
      const float *xr = x + r * C;
      const float *dy = dout + r * C;
      float *dxr = dx + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c)
        dxr[c] = dy[c] * geluGrad(xr[c] + bias[c]);
      if (pb) {
#pragma omp simd
        for (int64_t c = 0; c < C; ++c)
          pb[c] += dxr[c];
      }
    }
  });
  if (!dbias)
    return;
  pool.parallelFor(C, 256, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      float s = accumulate ? dbias[c] : 0.0f;
      for (int64_t blk = 0; blk < blocks; ++blk)
        s += partial[blk * C + c];
      dbias[c] = s;
    }
  });
}

void residualForward(float *out, const float *a, const float *b, int64_t n,
                     ThreadPool &pool) {
  pool.parallelFor(n, kGrain, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i)
      out[i] = a[i] + b[i];
  });
}

void residualBackward(float *da, float *db, const float *dout, int64_t n,
                      bool accumulate, ThreadPool &pool) {
  pool.parallelFor(n, kGrain, [&](int64_t begin, int64_t end) {
    for (float *d : {da, db}) {
      if (!d)
        continue;
      if (accumulate) {
#pragma omp simd
        for (int64_t i = begin; i < end; ++i)
          d[i] += dout[i];
      } else {
#pragma omp simd
        for (int64_t i = begin; i < end; ++i)
          d[i] = dout[i];
      }
    }
  });
}

GPT_CPU_ISA_END

#if GPT_CPU_ISA_PRIMARY
namespace gpt::cpu {
GPT_CPU_DECLARE_ISA(geluForward)
GPT_CPU_DECLARE_ISA(geluBackward)
GPT_CPU_DECLARE_ISA(biasGeluForward)
GPT_CPU_DECLARE_ISA(biasGeluBackward)
GPT_CPU_DECLARE_ISA(residualForward)
GPT_CPU_DECLARE_ISA(residualBackward)

void geluForward(float *out, const float *x, int64_t n, ThreadPool &pool) {
  GPT_CPU_DISPATCH(geluForward)(out, x, n, pool);
}
void geluBackward(float *dx, const float *dout, const float *x, int64_t n,
                  ThreadPool &pool) {
  GPT_CPU_DISPATCH(geluBackward)(dx, dout, x, n, pool);
}
void biasGeluForward(float *out, const float *x, const float *bias,
                     int64_t rows, int64_t C, ThreadPool &pool) {
  GPT_CPU_DISPATCH(biasGeluForward)(out, x, bias, rows, C, pool);
}
void biasGeluBackward(float *dx, float *dbias, const float *dout,
                      const float *x, const float *bias, int64_t rows,
                      int64_t C, bool accumulate, ThreadPool &pool) {
  GPT_CPU_DISPATCH(biasGeluBackward)
  (dx, dbias, dout, x, bias, rows, C, accumulate, pool);
}
void residualForward(float *out, const float *a, const float *b, int64_t n,
                     ThreadPool &pool) {
  GPT_CPU_DISPATCH(residualForward)(out, a, b, n, pool);
}
void residualBackward(float *da, float *db, const float *dout, int64_t n,
                      bool accumulate, ThreadPool &pool) {
  GPT_CPU_DISPATCH(residualBackward)(da, db, dout, n, accumulate, pool);
}
} // namespace gpt::cpu
#endif
