//===- GemmKernel.cpp - Per-ISA GEMM micro-kernels -----------------------===//
//
// Compiled once per ISA level (see IsaDispatch.h). Each build defines
// gemmKernel() returning its micro-kernel and block sizes:
//   avx512: 12 x 32 tile, 24 zmm accumulators
//   avx2:    6 x 16 tile, 12 ymm accumulators
//   scalar:  4 x 16 tile, plain C++ (the compiler may use SSE2)
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/GemmKernel.h"

#include <immintrin.h>

#include "runtime/cpu/IsaDispatch.h"

GPT_CPU_ISA_BEGIN

#if GPT_CPU_ISA_LEVEL == 2

namespace {
constexpr int MR = 12, NR = 32;

void microKernel(int64_t kc, const float *ap, const float *bp, float *c,
                 int64_t ldc, float alpha, float beta) {
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i)
    acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m512 b0 = _mm512_loadu_ps(bp);
    __m512 b1 = _mm512_loadu_ps(bp + 16);
    _mm_prefetch(reinterpret_cast<const char *>(bp + 8 * NR), _MM_HINT_T0);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      __m512 a = _mm512_set1_ps(ap[i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
    ap += MR;
    bp += NR;
  }
  __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      _mm512_storeu_ps(c + i * ldc, _mm512_mul_ps(va, acc[i][0]));
      _mm512_storeu_ps(c + i * ldc + 16, _mm512_mul_ps(va, acc[i][1]));
    }
  } else {
    __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      float *ci = c + i * ldc;
      _mm512_storeu_ps(ci,
                       _mm512_fmadd_ps(va, acc[i][0],
                                       _mm512_mul_ps(vb, _mm512_loadu_ps(ci))));
      _mm512_storeu_ps(
          ci + 16,
          _mm512_fmadd_ps(va, acc[i][1],
                          _mm512_mul_ps(vb, _mm512_loadu_ps(ci + 16))));
    }
  }
}
} // namespace

const GemmKernel &gemmKernel() {
  static const GemmKernel kernel{MR, NR, 96, 256, 256, &microKernel};
  return kernel;
}

#elif GPT_CPU_ISA_LEVEL == 1

namespace {
constexpr int MR = 6, NR = 16;

void microKernel(int64_t kc, const float *ap, const float *bp, float *c,
                 int64_t ldc, float alpha, float beta) {
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i)
    acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m256 b0 = _mm256_loadu_ps(bp);
    __m256 b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      __m256 a = _mm256_broadcast_ss(ap + i);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
    ap += MR;
    bp += NR;
  }
  __m256 va = _mm256_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      _mm256_storeu_ps(c + i * ldc, _mm256_mul_ps(va, acc[i][0]));
      _mm256_storeu_ps(c + i * ldc + 8, _mm256_mul_ps(va, acc[i][1]));
    }
  } else {
    __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      float *ci = c + i * ldc;
      _mm256_storeu_ps(ci,
                       _mm256_fmadd_ps(va, acc[i][0],
                                       _mm256_mul_ps(vb, _mm256_loadu_ps(ci))));
      _mm256_storeu_ps(
          ci + 8, _mm256_fmadd_ps(va, acc[i][1],
                                  _mm256_mul_ps(vb, _mm256_loadu_ps(ci + 8))));
    }
  }
}
} // namespace

const GemmKernel &gemmKernel() {
  static const GemmKernel kernel{MR, NR, 72, 256, 512, &microKernel};
  return kernel;
}

#else

namespace {
constexpr int MR = 4, NR = 16;

void microKernel(int64_t kc, const float *ap, const float *bp, float *c,
                 int64_t ldc, float alpha, float beta) {
  float acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j)
        acc[i][j] += ap[i] * bp[j];
    ap += MR;
    bp += NR;
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      c[i * ldc + j] = beta == 0.0f ? alpha * acc[i][j]
                                    : alpha * acc[i][j] + beta * c[i * ldc + j];
}
} // namespace

const GemmKernel &gemmKernel() {
  static const GemmKernel kernel{MR, NR, 64, 256, 256, &microKernel};
  return kernel;
}

#endif

GPT_CPU_ISA_END
