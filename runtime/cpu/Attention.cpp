//===- Attention.cpp - Flash-style causal self-attention, fwd/bwd ---------===//
//
// Forward, per (b, h, query block Qi of rows i0..i0+Br):
//   m = -inf, l = 0, O = 0
//   for key blocks Kj, Vj with j0 <= last row of Qi:
//     S = scale Qi Kj^T (masked s > t)        gemm
//     m' = max(m, rowmax S); P = exp(S - m'); l = l e^{m - m'} + rowsum P
//     O = O e^{m - m'} + P Vj                 gemm
//   out = O / l, lse = m + log l
// Backward, per (b, h), with D_t = dout_t . out_t:
//   for key block j, for query blocks i >= j:
//     P = exp(scale Qi Kj^T - lse_i) (masked)
//     dVj += P^T dOi;  dP = dOi Vj^T;  dS = P (dP - D_i)
//     dQi += scale dS Kj;  dKj += scale dS^T Qi
// All products are small GEMMs (gemmSerial) on the calling thread.
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/Attention.h"

#include "runtime/cpu/Matmul.h"
#include "runtime/cpu/VecMath.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "runtime/cpu/IsaDispatch.h"

namespace gpt::cpu {
namespace {
// Query and key tile sizes. Equal, so that a diagonal tile starts on the
// diagonal and every query row sees at least one key in each tile it visits.
constexpr int64_t kBr = 64;
constexpr int64_t kBc = 64;
static_assert(kBr == kBc, "causal tiling assumes square tiles");
} // namespace
} // namespace gpt::cpu

GPT_CPU_ISA_BEGIN

void attentionForward(float *out, float *lse, const float *qkv, int64_t B,
                      int64_t T, int64_t H, int64_t Dh, float scale,
                      ThreadPool &pool) {
  const int64_t C = H * Dh, ld = 3 * C;
  const int64_t qBlocks = numChunks(T, kBr);
  pool.parallelFor(B * H * qBlocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> S(kBr * kBc), O(kBr * Dh), m(kBr), l(kBr);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t bh = task / qBlocks, b = bh / H, h = bh % H;
      const int64_t i0 = task % qBlocks * kBr;
      const int64_t rows = std::min(kBr, T - i0);
      const float *q = qkv + b * T * ld + h * Dh;
      const float *k = q + C;
      const float *v = q + 2 * C;
      std::fill(m.begin(), m.end(), -std::numeric_limits<float>::infinity());
      std::fill(l.begin(), l.end(), 0.0f);
      std::fill(O.begin(), O.end(), 0.0f);
      for (int64_t j0 = 0; j0 < i0 + rows; j0 += kBc) {
        const int64_t cols = std::min(kBc, i0 + rows - j0);
        gemmSerial(false, true, rows, cols, Dh, scale, q + i0 * ld, ld,
                   k + j0 * ld, ld, 0.0f, S.data(), kBc);
        for (int64_t r = 0; r < rows; ++r) {
          float *s = S.data() + r * kBc;
          const int64_t valid = std::min(cols, i0 + r - j0 + 1);
          float mx = m[r];
#pragma omp simd reduction(max : mx)
          for (int64_t c = 0; c < valid; ++c)
            mx = s[c] > mx ? s[c] : mx;
          float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
          for (int64_t c = 0; c < valid; ++c) {
            float p = expApprox(s[c] - mx);
            s[c] = p;
            sum += p;
          }
          for (int64_t c = valid; c < cols; ++c)
            s[c] = 0.0f;
          const float corr = expApprox(m[r] - mx);
          l[r] = l[r] * corr + sum;
          m[r] = mx;
          float *o = O.data() + r * Dh;
#pragma omp simd
          for (int64_t d = 0; d < Dh; ++d)
            o[d] *= corr;
        }
        gemmSerial(false, false, rows, Dh, cols, 1.0f, S.data(), kBc,
                   v + j0 * ld, ld, 1.0f, O.data(), Dh);
      }
      float *lseRow = lse + bh * T + i0;
      for (int64_t r = 0; r < rows; ++r) {
        const float inv = 1.0f / l[r];
        const float *o = O.data() + r * Dh;
        float *dst = out + (b * T + i0 + r) * C + h * Dh;
#pragma omp simd
        for (int64_t d = 0; d < Dh; ++d)
          dst[d] = o[d] * inv;
        lseRow[r] = m[r] + std::log(l[r]);
      }
    }
  });
}

void attentionBackward(float *dqkv, const float *dout, const float *qkv,
                       const float *out, const float *lse, int64_t B, int64_t T,
                       int64_t H, int64_t Dh, float scale, ThreadPool &pool) {
  const int64_t C = H * Dh, ld = 3 * C;
  pool.parallelFor(B * H, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> P(kBr * kBc), dS(kBr * kBc), D(T);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      const float *q = qkv + b * T * ld + h * Dh;
      const float *k = q + C;
      const float *v = q + 2 * C;
      float *dq = dqkv + b * T * ld + h * Dh;
      float *dk = dq + C;
      float *dv = dq + 2 * C;
      const float *dO = dout + b * T * C + h * Dh;
      const float *O = out + b * T * C + h * Dh;
      const float *lseRow = lse + bh * T;
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t part = 0; part < 3; ++part)
          std::memset(dq + t * ld + part * C, 0, Dh * sizeof(float));
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int64_t d = 0; d < Dh; ++d)
          dot += dO[t * C + d] * O[t * C + d];
        D[t] = dot;
      }
      for (int64_t j0 = 0; j0 < T; j0 += kBc) {
        const int64_t cols = std::min(kBc, T - j0);
        for (int64_t i0 = j0; i0 < T; i0 += kBr) {
          const int64_t rows = std::min(kBr, T - i0);
          gemmSerial(false, true, rows, cols, Dh, scale, q + i0 * ld, ld,
                     k + j0 * ld, ld, 0.0f, P.data(), kBc);
          for (int64_t r = 0; r < rows; ++r) {
            float *p = P.data() + r * kBc;
            const int64_t valid = std::min(cols, i0 + r - j0 + 1);
            const float lr = lseRow[i0 + r];
#pragma omp simd
            for (int64_t c = 0; c < valid; ++c)
              p[c] = expApprox(p[c] - lr);
            for (int64_t c = valid; c < cols; ++c)
              p[c] = 0.0f;
          }
          gemmSerial(true, false, cols, Dh, rows, 1.0f, P.data(), kBc,
                     dO + i0 * C, C, 1.0f, dv + j0 * ld, ld);
          gemmSerial(false, true, rows, cols, Dh, 1.0f, dO + i0 * C, C,
                     v + j0 * ld, ld, 0.0f, dS.data(), kBc);
          for (int64_t r = 0; r < rows; ++r) {
            const float *p = P.data() + r * kBc;
            float *ds = dS.data() + r * kBc;
            const float Dr = D[i0 + r];
#pragma omp simd
            for (int64_t c = 0; c < cols; ++c)
              ds[c] = p[c] * (ds[c] - Dr);
          }
          gemmSerial(false, false, rows, Dh, cols, scale, dS.data(), kBc,
                     k + j0 * ld, ld, 1.0f, dq + i0 * ld, ld);
          gemmSerial(true, false, cols, Dh, rows, scale, dS.data(), kBc,
                     q + i0 * ld, ld, 1.0f, dk + j0 * ld, ld);
        }
      }
    }
  });
}

GPT_CPU_ISA_END

#if GPT_CPU_ISA_PRIMARY
namespace gpt::cpu {
GPT_CPU_DECLARE_ISA(attentionForward)
GPT_CPU_DECLARE_ISA(attentionBackward)

void attentionForward(float *out, float *lse, const float *qkv, int64_t B,
                      int64_t T, int64_t H, int64_t Dh, float scale,
                      ThreadPool &pool) {
  GPT_CPU_DISPATCH(attentionForward)(out, lse, qkv, B, T, H, Dh, scale, pool);
}
void attentionBackward(float *dqkv, const float *dout, const float *qkv,
                       const float *out, const float *lse, int64_t B, int64_t T,
                       int64_t H, int64_t Dh, float scale, ThreadPool &pool) {
  GPT_CPU_DISPATCH(attentionBackward)
  (dqkv, dout, qkv, out, lse, B, T, H, Dh, scale, pool);
}
} // namespace gpt::cpu
#endif
