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
/// GemmKernel::runUnpackedNT: B's columns of the tile are rows of B, read
/// with a gather per k (the lanes are 16 rows, ldb apart), so each lane sums
/// over k in order exactly like microKernel.
void unpackedNT(int64_t kc, int rows, int cols, const float *a, int64_t lda,
                const float *b, int64_t ldb, float *tile, float alpha) {
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i)
    acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  const __m512i index = _mm512_mullo_epi32(
      _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
      _mm512_set1_epi32(static_cast<int>(ldb)));
  const __mmask16 m0 = cols >= 16 ? 0xFFFF : (1u << cols) - 1;
  const __mmask16 m1 = cols <= 16   ? 0
                       : cols >= 32 ? 0xFFFF
                                    : (1u << (cols - 16)) - 1;
  const float *b1 = b + 16 * ldb;
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m512 b0v = _mm512_mask_i32gather_ps(zero, m0, index, b + k, 4);
    __m512 b1v =
        m1 ? _mm512_mask_i32gather_ps(zero, m1, index, b1 + k, 4) : zero;
    for (int i = 0; i < rows; ++i) {
      __m512 av = _mm512_set1_ps(a[i * lda + k]);
      acc[i][0] = _mm512_fmadd_ps(av, b0v, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(av, b1v, acc[i][1]);
    }
  }
  __m512 va = _mm512_set1_ps(alpha);
  for (int i = 0; i < rows; ++i) {
    _mm512_storeu_ps(tile + i * NR, _mm512_mul_ps(va, acc[i][0]));
    _mm512_storeu_ps(tile + i * NR + 16, _mm512_mul_ps(va, acc[i][1]));
  }
}
} // namespace

const GemmKernel &gemmKernel() {
  static const GemmKernel kernel{MR,  NR,           96,         256,
                                 256, &microKernel, &unpackedNT};
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
