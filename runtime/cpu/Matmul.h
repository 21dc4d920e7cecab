//===- Matmul.h - Matrix multiply and the linear layer, fwd/bwd -----------===//
//
// All buffers are fp32, row-major, with explicit row strides (leading
// dimensions, in elements). Sizes are run-time values.
//
// Determinism: the reduction over K is always cut at the same fixed block
// size and summed in the same order, so results are bit-identical for any
// thread count (for a given ISA level).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/cpu/ThreadPool.h"

#include <cstdint>

namespace gpt::cpu {

/// C = alpha * op(A) * op(B) + beta * C, with C of shape [M, N] (row stride
/// ldc), op(A) of shape [M, K] and op(B) of shape [K, N]:
///   transA == false: A is [M, K] (row stride lda), op(A) = A
///   transA == true:  A is [K, M] (row stride lda), op(A) = A^T
///   transB == false: B is [K, N] (row stride ldb), op(B) = B
///   transB == true:  B is [N, K] (row stride ldb), op(B) = B^T
/// beta == 0 overwrites C without reading it (NaNs in C do not propagate).
/// Cache-blocked, SIMD (active ISA), multi-threaded on `pool`.
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K,
          float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
          float beta, float *C, int64_t ldc,
          ThreadPool &pool = ThreadPool::global());

/// As gemm, on the calling thread only (for use inside other kernels'
/// parallel loops). Same results as gemm, bit for bit.
void gemmSerial(bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                float alpha, const float *A, int64_t lda, const float *B,
                int64_t ldb, float beta, float *C, int64_t ldc);

/// Linear layer, PyTorch convention:
///   out[rows, outF] = inp[rows, inF] * weight[outF, inF]^T + bias[outF]
/// bias may be null. All tensors contiguous.
void linearForward(float *out, const float *inp, const float *weight,
                   const float *bias, int64_t rows, int64_t inF, int64_t outF,
                   ThreadPool &pool = ThreadPool::global());

/// Backward of linearForward given dout[rows, outF]:
///   dinp[rows, inF]    = dout * weight
///   dweight[outF, inF] = dout^T * inp
///   dbias[outF]        = sum over rows of dout
/// Any of dinp, dweight, dbias may be null (not computed). With
/// accumulate == true the gradients are added to the buffers' contents,
/// otherwise the buffers are overwritten.
void linearBackward(float *dinp, float *dweight, float *dbias,
                    const float *dout, const float *inp, const float *weight,
                    int64_t rows, int64_t inF, int64_t outF, bool accumulate,
                    ThreadPool &pool = ThreadPool::global());

} // namespace gpt::cpu
