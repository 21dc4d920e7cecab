//===- Matmul.cpp - Blocked GEMM driver and the linear layer --------------===//
//
// BLIS-style: C is cut into blocks of nc columns (and all rows, or row
// ranges when there are too few blocks for the threads), one task each. A
// task walks K in kc steps; per step it packs op(B)[kc, nc] into NR-column
// panels once, then for each mc rows packs op(A)[mc, kc] into MR-row panels
// (zero-padded, transposes resolved by the packing) and runs the ISA's
// micro-kernel over the MR x NR tiles.
// The first K step applies beta, later ones accumulate. kc is a per-ISA
// constant, so every element of C is summed in the same order whatever the
// block sizes and thread count.
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/Matmul.h"

#include "runtime/cpu/GemmKernel.h"
#include "runtime/cpu/Isa.h"
#include "runtime/cpu/Scratch.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace gpt::cpu {
namespace {

const GemmKernel &activeGemmKernel() {
  switch (activeIsa()) {
  case Isa::Avx512:
    return avx512::gemmKernel();
  case Isa::Avx2:
    return avx2::gemmKernel();
  case Isa::Scalar:
    break;
  }
  return scalar::gemmKernel();
}

thread_local Scratch packABuffer;
thread_local Scratch packBBuffer;

struct GemmArgs {
  bool transA, transB;
  int64_t M, N, K;
  float alpha;
  const float *A;
  int64_t lda;
  const float *B;
  int64_t ldb;
  float beta;
  float *C;
  int64_t ldc;
};

/// Packs op(A)[i0:i0+mc, p0:p0+kc] into panels of mr rows: panel p holds
/// kc columns of mr floats at dst + p*mr*kc. Rows past mc are zero.
void packA(const GemmArgs &g, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
           int mr, float *dst) {
  for (int64_t ir = 0; ir < mc; ir += mr) {
    int64_t rows = std::min<int64_t>(mr, mc - ir);
    float *panel = dst + ir * kc;
    if (!g.transA) {
      for (int64_t i = 0; i < rows; ++i) {
        const float *src = g.A + (i0 + ir + i) * g.lda + p0;
        for (int64_t k = 0; k < kc; ++k)
          panel[k * mr + i] = src[k];
      }
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const float *src = g.A + (p0 + k) * g.lda + i0 + ir;
        for (int64_t i = 0; i < rows; ++i)
          panel[k * mr + i] = src[i];
      }
    }
    for (int64_t i = rows; i < mr; ++i)
      for (int64_t k = 0; k < kc; ++k)
        panel[k * mr + i] = 0.0f;
  }
}

/// Packs op(B)[p0:p0+kc, j0:j0+nc] into panels of nr columns: panel p holds
/// kc rows of nr floats at dst + p*nr*kc. Columns past nc are zero.
void packB(const GemmArgs &g, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
           int nr, float *dst) {
  for (int64_t jr = 0; jr < nc; jr += nr) {
    int64_t cols = std::min<int64_t>(nr, nc - jr);
    float *panel = dst + jr * kc;
    if (!g.transB) {
      for (int64_t k = 0; k < kc; ++k) {
        const float *src = g.B + (p0 + k) * g.ldb + j0 + jr;
        float *d = panel + k * nr;
        for (int64_t j = 0; j < cols; ++j)
          d[j] = src[j];
        for (int64_t j = cols; j < nr; ++j)
          d[j] = 0.0f;
      }
    } else {
      for (int64_t j = 0; j < cols; ++j) {
        const float *src = g.B + (j0 + jr + j) * g.ldb + p0;
        for (int64_t k = 0; k < kc; ++k)
          panel[k * nr + j] = src[k];
      }
      for (int64_t j = cols; j < nr; ++j)
        for (int64_t k = 0; k < kc; ++k)
          panel[k * nr + j] = 0.0f;
    }
  }
}

/// C = beta * C over [rows, cols] (the K == 0 or alpha == 0 case).
void scaleC(const GemmArgs &g, int64_t i0, int64_t rows, int64_t j0,
            int64_t cols) {
  for (int64_t i = i0; i < i0 + rows; ++i) {
    float *c = g.C + i * g.ldc + j0;
    for (int64_t j = 0; j < cols; ++j)
      c[j] = g.beta == 0.0f ? 0.0f : g.beta * c[j];
  }
}

/// An edge tile's store: C = tile (beta 0) or tile + beta * C, from the
/// alpha-scaled kernel output `tile` (leading dimension ldt).
void storeTile(const float *tile, int64_t ldt, float *c, int64_t ldc,
               int64_t rows, int64_t cols, float beta) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      float &cij = c[i * ldc + j];
      cij = beta == 0.0f ? tile[i * ldt + j] : tile[i * ldt + j] + beta * cij;
    }
}

/// The micro-kernel over the MR x NR tiles of C[i0:i0+mc, j0:j0+nc] from
/// packed panels (edge tiles through a buffer).
void runTiles(const GemmKernel &kern, const GemmArgs &g, const float *ap,
              const float *bp, int64_t i0, int64_t mc, int64_t j0, int64_t nc,
              int64_t kc, float beta) {
  const int MR = kern.mr, NR = kern.nr;
  alignas(64) float tmp[16 * 64];
  for (int64_t jr = 0; jr < nc; jr += NR) {
    int64_t nr = std::min<int64_t>(NR, nc - jr);
    for (int64_t ir = 0; ir < mc; ir += MR) {
      int64_t mr = std::min<int64_t>(MR, mc - ir);
      float *c = g.C + (i0 + ir) * g.ldc + j0 + jr;
      const float *a = ap + ir * kc;
      const float *b = bp + jr * kc;
      if (mr == MR && nr == NR) {
        kern.run(kc, a, b, c, g.ldc, g.alpha, beta);
        continue;
      }
      kern.run(kc, a, b, tmp, NR, g.alpha, 0.0f);
      storeTile(tmp, NR, c, g.ldc, mr, nr, beta);
    }
  }
}

/// C = A·Bᵀ with fewer rows than the micro-tile (decode): B is read where it
/// is, each NR-column tile computed by the kernel's runUnpackedNT, K in the
/// same kc steps and the same edge-tile store as the packed path, so the
/// result is bitwise the packed one. Work is split by columns.
void gemmFewRowsNT(const GemmKernel &kern, const GemmArgs &g,
                   ThreadPool &pool) {
  const int NR = kern.nr;
  const int64_t tiles = numChunks(g.N, NR);
  pool.parallelFor(tiles, 1, [&](int64_t begin, int64_t end) {
    alignas(64) float tmp[16 * 64];
    for (int64_t t = begin; t < end; ++t) {
      const int64_t j0 = t * NR;
      const int cols = static_cast<int>(std::min<int64_t>(NR, g.N - j0));
      float *c = g.C + j0;
      if (g.K == 0 || g.alpha == 0.0f) {
        scaleC(g, 0, g.M, j0, cols);
        continue;
      }
      for (int64_t p0 = 0; p0 < g.K; p0 += kern.kc) {
        int64_t kc = std::min(kern.kc, g.K - p0);
        float beta = p0 == 0 ? g.beta : 1.0f;
        kern.runUnpackedNT(kc, static_cast<int>(g.M), cols, g.A + p0, g.lda,
                           g.B + j0 * g.ldb + p0, g.ldb, tmp, g.alpha);
        storeTile(tmp, NR, c, g.ldc, g.M, cols, beta);
      }
    }
  });
}

/// Computes the block C[i0:i0+rows, j0:j0+nc] on the calling thread: per
/// K step, op(B)'s kc x nc panel is packed once and reused by every mc-row
/// slice of the block (each packing its own op(A) panel), so B is read
/// once per block and K step instead of once per mc rows.
void gemmBlock(const GemmKernel &kern, const GemmArgs &g, int64_t i0,
               int64_t rows, int64_t j0, int64_t nc) {
  if (g.K == 0 || g.alpha == 0.0f) {
    scaleC(g, i0, rows, j0, nc);
    return;
  }
  const int MR = kern.mr, NR = kern.nr;
  const int64_t kcMax = std::min(kern.kc, g.K);
  const int64_t mcMax = std::min(kern.mc, rows);
  float *ap = packABuffer.get((mcMax + MR - 1) / MR * MR * kcMax);
  float *bp = packBBuffer.get((nc + NR - 1) / NR * NR * kcMax);
  for (int64_t p0 = 0; p0 < g.K; p0 += kern.kc) {
    int64_t kc = std::min(kern.kc, g.K - p0);
    float beta = p0 == 0 ? g.beta : 1.0f;
    packB(g, p0, kc, j0, nc, NR, bp);
    for (int64_t ii = i0; ii < i0 + rows; ii += kern.mc) {
      int64_t mc = std::min(kern.mc, i0 + rows - ii);
      packA(g, ii, mc, p0, kc, MR, ap);
      runTiles(kern, g, ap, bp, ii, mc, j0, nc, kc, beta);
    }
  }
}

int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

} // namespace

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K,
          float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
          float beta, float *C, int64_t ldc, ThreadPool &pool) {
  if (M <= 0 || N <= 0)
    return;
  const GemmKernel &kern = activeGemmKernel();
  GemmArgs g{transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  if (!transA && transB && M < kern.mr && kern.runUnpackedNT &&
      ldb * 16 < (int64_t(1) << 31)) {
    gemmFewRowsNT(kern, g, pool);
    return;
  }
  // A task is every row of an nc-column block (its packed B is shared by
  // all its rows). With several threads and too few blocks, rows are split
  // first (down to the kernel's mc: B is then packed once per mc rows, as
  // a plain BLIS loop would), then columns. This changes only which task
  // computes a tile, not the K order.
  const int64_t threads = static_cast<int64_t>(pool.numThreads());
  int64_t mc = roundUp(M, kern.mr), nc = kern.nc;
  const int64_t wanted = threads == 1 ? 1 : 8 * threads;
  auto tasks = [&] { return numChunks(M, mc) * numChunks(N, nc); };
  while (tasks() < wanted && mc > kern.mc)
    mc = std::max(kern.mc, roundUp(mc / 2, kern.mr));
  while (tasks() < wanted && nc > 2 * kern.nr)
    nc = roundUp(nc / 2, kern.nr);
  while (tasks() < wanted && mc > kern.mr)
    mc = roundUp(mc / 2, kern.mr);
  const int64_t nBlocks = numChunks(N, nc);
  pool.parallelFor(tasks(), 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t i0 = t / nBlocks * mc, j0 = t % nBlocks * nc;
      gemmBlock(kern, g, i0, std::min(mc, M - i0), j0, std::min(nc, N - j0));
    }
  });
}

void gemmSerial(bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                float alpha, const float *A, int64_t lda, const float *B,
                int64_t ldb, float beta, float *C, int64_t ldc) {
  if (M <= 0 || N <= 0)
    return;
  const GemmKernel &kern = activeGemmKernel();
  GemmArgs g{transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  for (int64_t j0 = 0; j0 < N; j0 += kern.nc)
    gemmBlock(kern, g, 0, M, j0, std::min(kern.nc, N - j0));
}

void linearForward(float *out, const float *inp, const float *weight,
                   const float *bias, int64_t rows, int64_t inF, int64_t outF,
                   ThreadPool &pool) {
  float beta = 0.0f;
  if (bias) {
    pool.parallelFor(rows, 64, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        std::memcpy(out + r * outF, bias, outF * sizeof(float));
    });
    beta = 1.0f;
  }
  gemm(false, true, rows, outF, inF, 1.0f, inp, inF, weight, inF, beta, out,
       outF, pool);
}

void linearBackward(float *dinp, float *dweight, float *dbias,
                    const float *dout, const float *inp, const float *weight,
                    int64_t rows, int64_t inF, int64_t outF, bool accumulate,
                    ThreadPool &pool) {
  const float beta = accumulate ? 1.0f : 0.0f;
  if (dinp)
    gemm(false, false, rows, inF, outF, 1.0f, dout, outF, weight, inF, beta,
         dinp, inF, pool);
  if (dweight)
    gemm(true, false, outF, inF, rows, 1.0f, dout, outF, inp, inF, beta,
         dweight, inF, pool);
  if (dbias) {
    // Each chunk of columns sums all rows in order: deterministic.
    constexpr int64_t kCols = 64;
    pool.parallelFor(outF, kCols, [&](int64_t begin, int64_t end) {
      float acc[kCols];
      for (int64_t j = begin; j < end; ++j)
        acc[j - begin] = accumulate ? dbias[j] : 0.0f;
      for (int64_t r = 0; r < rows; ++r) {
        const float *d = dout + r * outF;
        for (int64_t j = begin; j < end; ++j)
          acc[j - begin] += d[j];
      }
      for (int64_t j = begin; j < end; ++j)
        dbias[j] = acc[j - begin];
    });
  }
}

} // namespace gpt::cpu
