//===- MatmulKernels.cpp - CPU kernels: linear, matmul --------------------===//
//
// Part of the CPU executor's kernel table (KernelsInternal.h); the Vulkan
// executor's runtime/vulkan/kernels/MatmulKernels.cpp records the same kernels.
//
//===----------------------------------------------------------------------===//
#include "runtime/executor/KernelsInternal.h"

#include "runtime/cpu/Matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace gpt::exec {
namespace {

/// y = x · W (+ bias) for at most kFewRows rows (decode): one pass over W,
/// no packing, so the step is bound by reading the weights once. Each row's
/// result does not depend on how many rows there are.
constexpr int64_t kFewRows = 8;

void linearFewRows(const float *x, const float *w, const float *bias, float *y,
                   int64_t M, int64_t K, int64_t N, bool tw, ThreadPool &pool) {
  if (tw) { // W [N, K]: one dot product per (row, output)
    pool.parallelFor(N, grainFor(K, 8192), [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) {
        const float *wr = w + n * K;
        for (int64_t m = 0; m < M; ++m) {
          const float *xr = x + m * K;
          float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
          for (int64_t k = 0; k < K; ++k)
            dot += xr[k] * wr[k];
          y[m * N + n] = dot + (bias ? bias[n] : 0.0f);
        }
      }
    });
    return;
  }
  // W [K, N]: each task owns a slice of columns and streams W's rows.
  constexpr int64_t kCols = 128;
  pool.parallelFor((N + kCols - 1) / kCols, 1, [&](int64_t b, int64_t e) {
    float acc[kFewRows][kCols];
    for (int64_t chunk = b; chunk < e; ++chunk) {
      int64_t n0 = chunk * kCols, n = std::min(kCols, N - n0);
      for (int64_t m = 0; m < M; ++m)
        for (int64_t j = 0; j < n; ++j)
          acc[m][j] = 0.0f;
      for (int64_t k = 0; k < K; ++k) {
        const float *wr = w + k * N + n0;
        for (int64_t m = 0; m < M; ++m) {
          float a = x[m * K + k];
          float *am = acc[m];
#pragma omp simd
          for (int64_t j = 0; j < n; ++j)
            am[j] += a * wr[j];
        }
      }
      for (int64_t m = 0; m < M; ++m)
        for (int64_t j = 0; j < n; ++j)
          y[m * N + n0 + j] = acc[m][j] + (bias ? bias[n0 + j] : 0.0f);
    }
  });
}

void linear(KernelContext &c) {
  const Tensor &x = *c.in[0], &w = *c.in[1], &y = *c.out[0];
  bool tw = attrBool(c.kernel, "transpose_weight");
  int64_t K = x.last(), M = x.rows(), N = tw ? w.shape[0] : w.shape[1];
  if (M <= kFewRows) {
    linearFewRows(x.f(), w.f(), c.in[2] ? c.in[2]->f() : nullptr, y.f(), M, K,
                  N, tw, c.pool);
    return;
  }
  float beta = 0.0f;
  if (c.in[2]) {
    const float *bias = c.in[2]->f();
    float *o = y.f();
    c.pool.parallelFor(M, grainFor(N), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r)
        std::memcpy(o + r * N, bias, N * sizeof(float));
    });
    beta = 1.0f;
  }
  cpu::gemm(false, tw, M, N, K, 1.0f, x.f(), K, w.f(), tw ? K : N, beta, y.f(),
            N, c.pool);
}

void linearWeightGrad(KernelContext &c) {
  const Tensor &x = *c.in[0], &dy = *c.in[1], &dw = *c.out[0];
  bool tw = attrBool(c.kernel, "transpose_weight");
  int64_t K = x.last(), N = dy.last(), rows = x.rows();
  if (!tw)
    cpu::gemm(true, false, K, N, rows, 1.0f, x.f(), K, dy.f(), N, 0.0f, dw.f(),
              N, c.pool);
  else
    cpu::gemm(true, false, N, K, rows, 1.0f, dy.f(), N, x.f(), K, 0.0f, dw.f(),
              K, c.pool);
}

void matmul(KernelContext &c) {
  const Tensor &a = *c.in[0], &b = *c.in[1], &y = *c.out[0];
  bool tl = attrBool(c.kernel, "transpose_lhs");
  bool tr = attrBool(c.kernel, "transpose_rhs");
  size_t ra = a.shape.size(), rb = b.shape.size();
  int64_t M = tl ? a.shape[ra - 1] : a.shape[ra - 2];
  int64_t K = tl ? a.shape[ra - 2] : a.shape[ra - 1];
  int64_t N = tr ? b.shape[rb - 2] : b.shape[rb - 1];
  int64_t batch = 1;
  for (size_t d = 0; d + 2 < ra; ++d)
    batch *= a.shape[d];
  bool bBatched = rb > 2;
  int64_t lda = tl ? M : K, ldb = tr ? K : N;
  if (!bBatched && !tl) { // one tall gemm
    cpu::gemm(false, tr, batch * M, N, K, 1.0f, a.f(), lda, b.f(), ldb, 0.0f,
              y.f(), N, c.pool);
    return;
  }
  const float *ap = a.f(), *bp = b.f();
  float *cp = y.f();
  auto one = [&](int64_t i, bool serial) {
    const float *A = ap + i * M * K;
    const float *Bm = bp + (bBatched ? i * K * N : 0);
    float *C = cp + i * M * N;
    if (serial)
      cpu::gemmSerial(tl, tr, M, N, K, 1.0f, A, lda, Bm, ldb, 0.0f, C, N);
    else
      cpu::gemm(tl, tr, M, N, K, 1.0f, A, lda, Bm, ldb, 0.0f, C, N, c.pool);
  };
  if (batch >= c.pool.numThreads() && M * N * K < (int64_t(1) << 21)) {
    c.pool.parallelFor(batch, 1, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i)
        one(i, true);
    });
  } else {
    for (int64_t i = 0; i < batch; ++i)
      one(i, false);
  }
}

} // namespace

void registerMatmulKernels(CpuKernelTable &table) {
  table[static_cast<size_t>(KernelId::Linear)] = [](KernelContext &c) {
    linear(c);
  };
  table[static_cast<size_t>(KernelId::Matmul)] = [](KernelContext &c) {
    matmul(c);
  };
  table[static_cast<size_t>(KernelId::LinearWeightGrad)] =
      [](KernelContext &c) { linearWeightGrad(c); };
}

} // namespace gpt::exec
