//===- GemmKernel.h - Per-ISA GEMM micro-kernels (internal) --------------===//
//
// The GEMM driver (Matmul.cpp) packs blocks of op(A) into MR-row panels and
// blocks of op(B) into NR-column panels, then calls the active ISA's
// micro-kernel on each MR x NR tile of C:
//
//   C[MR, NR] (row stride ldc) = alpha * Ap * Bp + beta * C
//
// Ap holds kc steps of MR floats (column k of the panel at Ap + k*MR), Bp kc
// steps of NR floats. beta == 0 means C is not read.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>

namespace gpt::cpu {

struct GemmKernel {
  int mr, nr;         ///< micro-tile shape
  int64_t mc, kc, nc; ///< cache block sizes (mc % mr == 0, nc % nr == 0)
  void (*run)(int64_t kc, const float *ap, const float *bp, float *c,
              int64_t ldc, float alpha, float beta);
  /// Optional, for C = A·Bᵀ with fewer than mr rows (decode): what `run`
  /// computes into an mr x nr buffer (ld nr, beta 0) for A's first `rows`
  /// rows and B's first `cols` rows (< nr: the rest are zero), reading A
  /// [rows, kc] and B [cols, kc] unpacked. The same sums in the same order,
  /// so the result is bitwise that of the packed path; it only skips
  /// packing B, which for so few rows costs more than the product.
  void (*runUnpackedNT)(int64_t kc, int rows, int cols, const float *a,
                        int64_t lda, const float *b, int64_t ldb, float *tile,
                        float alpha) = nullptr;
};

namespace scalar {
const GemmKernel &gemmKernel();
}
namespace avx2 {
const GemmKernel &gemmKernel();
}
namespace avx512 {
const GemmKernel &gemmKernel();
}

} // namespace gpt::cpu
