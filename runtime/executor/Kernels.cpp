//===- Kernels.cpp - The artifact's kernels on gpt_cpu_kernels ------------===//
//
// One function per kernel of the table in docs/artifact.md. Heavy lifting is
// done by the CPU kernel library (gemm, flash attention, layernorm, softmax,
// cross-entropy, AdamW, grad norm); data movement (split, concat, transpose,
// embeddings) and the few kernels the library lacks are written here.
//
//===----------------------------------------------------------------------===//
#include "executor/CpuExecutor.h"
#include "executor/KernelsInternal.h"
#include "executor/RuntimeChecks.h"
#include "runtime/model/KernelRegistry.h"

#include "cpu/attention.h"
#include "cpu/embedding.h"
#include "cpu/layernorm.h"
#include "cpu/matmul.h"
#include "cpu/optimizer.h"
#include "cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace gpt::exec {
namespace {

using cpu::ThreadPool;

[[noreturn]] void error(const std::string &what) { throw ExecutorError(what); }

/// Rows per parallel chunk so that a chunk touches about `work` elements.
int64_t grainFor(int64_t rowLength, int64_t work = 16384) {
  return std::max<int64_t>(1, work / std::max<int64_t>(1, rowLength));
}

int64_t normAxis(int64_t axis, size_t rank) {
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}

/// outer x len x inner decomposition around an axis.
void aroundAxis(const std::vector<int64_t> &shape, int64_t axis, int64_t &outer,
                int64_t &len, int64_t &inner) {
  outer = 1;
  inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  len = shape[axis];
  for (size_t d = axis + 1; d < shape.size(); ++d)
    inner *= shape[d];
}

void embedding(KernelContext &c) {
  const Tensor &table = *c.in[0], &ids = *c.in[1], &y = *c.out[0];
  int64_t V = table.shape[0], D = table.shape[1], N = ids.numel;
  checkTokenIds(ids.i(), N, V, "token id");
  const float *t = table.f();
  const int32_t *id = ids.i();
  float *o = y.f();
  c.pool.parallelFor(N, grainFor(D), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      std::memcpy(o + r * D, t + int64_t(id[r]) * D, D * sizeof(float));
  });
}

/// y[b, t] = table[start[b] + t] (start = 0 without the third operand).
void positionEmbedding(KernelContext &c) {
  const Tensor &table = *c.in[0], &ids = *c.in[1], &y = *c.out[0];
  const int32_t *start = c.in.size() > 2 && c.in[2] ? c.in[2]->i() : nullptr;
  int64_t C = table.shape[0], D = table.shape[1];
  int64_t B = ids.shape[0], T = ids.shape[1];
  checkPositions(start, B, T, C);
  const float *t = table.f();
  float *o = y.f();
  c.pool.parallelFor(B * T, grainFor(D), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t pos = r % T + (start ? start[r / T] : 0);
      std::memcpy(o + r * D, t + pos * D, D * sizeof(float));
    }
  });
}

/// cache[block_table[b, p / BS], p % BS] = new[b, t] for p = start[b] + t.
void kvCacheWrite(KernelContext &c) {
  const Tensor &cache = *c.in[0], &x = *c.in[1], &table = *c.in[2],
               &start = *c.in[3], &out = *c.out[0];
  int64_t N = cache.shape[0], BS = cache.shape[1], D = cache.shape[2];
  int64_t B = x.shape[0], T = x.shape[1], NB = table.shape[1];
  checkPagedPositions(table.i(), start.i(), B, T, NB, BS, N);
  if (out.data != cache.data)
    std::memmove(out.data, cache.data, size_t(cache.numel) * sizeof(float));
  const int32_t *tb = table.i(), *st = start.i();
  const float *src = x.f();
  float *dst = out.f();
  c.pool.parallelFor(B * T, grainFor(D), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t seq = r / T, p = st[seq] + r % T;
      int64_t row = int64_t(tb[seq * NB + p / BS]) * BS + p % BS;
      std::memcpy(dst + row * D, src + r * D, D * sizeof(float));
    }
  });
}

/// Causal multi-head attention of q [B, T, D] (positions start[b] + t) over
/// the paged caches. One task per (sequence, head, tile of queries); each
/// query keeps an online softmax, rescaled once per cache block.
void pagedAttention(KernelContext &c) {
  const Tensor &q = *c.in[0], &kc = *c.in[1], &vc = *c.in[2], &table = *c.in[3],
               &start = *c.in[4], &o = *c.out[0];
  int64_t N = kc.shape[0], BS = kc.shape[1], D = kc.shape[2];
  int64_t B = q.shape[0], T = q.shape[1], NB = table.shape[1];
  int64_t H = attrInt(c.kernel, "num_heads"), Dh = D / H;
  float scale = attrFloat(c.kernel, "scale");
  checkPagedPositions(table.i(), start.i(), B, T, NB, BS, N);
  const int64_t tile = 8, tiles = (T + tile - 1) / tile;
  const int32_t *tb = table.i(), *st = start.i();
  const float *qp = q.f(), *kp = kc.f(), *vp = vc.f();
  float *op = o.f();
  c.pool.parallelFor(B * H * tiles, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> acc(tile * Dh), scores(BS), m(tile), l(tile);
    for (int64_t task = t0; task < t1; ++task) {
      int64_t ti = task % tiles, h = (task / tiles) % H, b = task / (tiles * H);
      int64_t i0 = ti * tile, n = std::min(tile, T - i0);
      int64_t s0 = st[b];
      std::fill(acc.begin(), acc.begin() + n * Dh, 0.0f);
      std::fill(m.begin(), m.end(), -std::numeric_limits<float>::infinity());
      std::fill(l.begin(), l.end(), 0.0f);
      int64_t lastPos = s0 + i0 + n - 1;
      for (int64_t blk = 0; blk <= lastPos / BS; ++blk) {
        int64_t base = int64_t(tb[b * NB + blk]) * BS;
        const float *kb = kp + base * D + h * Dh, *vb = vp + base * D + h * Dh;
        for (int64_t i = 0; i < n; ++i) {
          // Keys j < rows of this block are visible to query i0 + i.
          int64_t rows = std::min(BS, s0 + i0 + i + 1 - blk * BS);
          if (rows <= 0)
            continue;
          const float *qr = qp + ((b * T + i0 + i) * D) + h * Dh;
          float mb = -std::numeric_limits<float>::infinity();
          for (int64_t j = 0; j < rows; ++j) {
            const float *kr = kb + j * D;
            float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
            for (int64_t d = 0; d < Dh; ++d)
              dot += qr[d] * kr[d];
            scores[j] = dot * scale;
            mb = std::max(mb, scores[j]);
          }
          float *a = acc.data() + i * Dh;
          if (mb > m[i]) {
            float corr = std::exp(m[i] - mb);
            l[i] *= corr;
#pragma omp simd
            for (int64_t d = 0; d < Dh; ++d)
              a[d] *= corr;
            m[i] = mb;
          }
          float sum = 0.0f;
          for (int64_t j = 0; j < rows; ++j) {
            float p = std::exp(scores[j] - m[i]);
            sum += p;
            const float *vr = vb + j * D;
#pragma omp simd
            for (int64_t d = 0; d < Dh; ++d)
              a[d] += p * vr[d];
          }
          l[i] += sum;
        }
      }
      for (int64_t i = 0; i < n; ++i) {
        float *orow = op + ((b * T + i0 + i) * D) + h * Dh;
        float inv = l[i] > 0 ? 1.0f / l[i] : 0.0f;
        for (int64_t d = 0; d < Dh; ++d)
          orow[d] = acc[i * Dh + d] * inv;
      }
    }
  });
}

/// y[b] = x[b, T - 1].
void takeLast(KernelContext &c) {
  const Tensor &x = *c.in[0], &y = *c.out[0];
  int64_t B = x.shape[0], T = x.shape[1], D = x.shape[2];
  for (int64_t b = 0; b < B; ++b)
    std::memmove(y.f() + b * D, x.f() + (b * T + T - 1) * D, D * sizeof(float));
}

void positionEmbeddingGrad(KernelContext &c) {
  const Tensor &dy = *c.in[0], &dt = *c.out[0];
  int64_t B = dy.shape[0], T = dy.shape[1], D = dy.shape[2];
  int64_t C = dt.shape[0];
  if (T > C)
    error("sequence length T = " + std::to_string(T) +
          " exceeds the context length " + std::to_string(C));
  const float *g = dy.f();
  float *o = dt.f();
  c.pool.parallelFor(C, grainFor(D * std::max<int64_t>(B, 1)),
                     [&](int64_t b, int64_t e) {
                       for (int64_t t = b; t < e; ++t) {
                         float *row = o + t * D;
                         std::fill(row, row + D, 0.0f);
                         if (t >= T)
                           continue;
                         for (int64_t bb = 0; bb < B; ++bb) {
                           const float *src = g + (bb * T + t) * D;
                           for (int64_t j = 0; j < D; ++j)
                             row[j] += src[j];
                         }
                       }
                     });
}

void embeddingGrad(KernelContext &c) {
  const Tensor &dy = *c.in[0], &ids = *c.in[1], &dt = *c.out[0];
  int64_t V = dt.shape[0], D = dt.shape[1], N = ids.numel;
  checkTokenIds(ids.i(), N, V, "token id");
  const int32_t *id = ids.i();
  const float *g = dy.f();
  float *o = dt.f();
  // Zero, then each task owns a slice of channels and adds rows in order.
  c.pool.parallelFor(V, grainFor(D), [&](int64_t b, int64_t e) {
    std::fill(o + b * D, o + e * D, 0.0f);
  });
  const int64_t slice = 64;
  c.pool.parallelFor((D + slice - 1) / slice, 1, [&](int64_t b, int64_t e) {
    int64_t c0 = b * slice, c1 = std::min(D, e * slice);
    for (int64_t r = 0; r < N; ++r) {
      float *row = o + int64_t(id[r]) * D;
      const float *src = g + r * D;
      for (int64_t j = c0; j < c1; ++j)
        row[j] += src[j];
    }
  });
}

void layernorm(KernelContext &c) {
  const Tensor &x = *c.in[0], &y = *c.out[0];
  int64_t D = x.last(), rows = x.rows();
  float *mean = c.scratch.get(0, rows), *rstd = c.scratch.get(1, rows);
  cpu::layernormForward(y.f(), mean, rstd, x.f(), c.in[1]->f(),
                        c.in[2] ? c.in[2]->f() : nullptr, rows, D,
                        attrFloat(c.kernel, "epsilon"), c.pool);
}

void layernormGrad(KernelContext &c) {
  const Tensor &dy = *c.in[0], &x = *c.in[1], &gamma = *c.in[2];
  int64_t D = x.last(), rows = x.rows();
  float eps = attrFloat(c.kernel, "epsilon");
  float *mean = c.scratch.get(0, rows), *rstd = c.scratch.get(1, rows);
  const float *xp = x.f();
  c.pool.parallelFor(rows, grainFor(D), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float *row = xp + r * D;
      double s = 0;
      for (int64_t j = 0; j < D; ++j)
        s += row[j];
      double m = D ? s / D : 0.0, v = 0;
      for (int64_t j = 0; j < D; ++j)
        v += (row[j] - m) * (row[j] - m);
      v = D ? v / D : 0.0;
      mean[r] = static_cast<float>(m);
      rstd[r] = static_cast<float>(1.0 / std::sqrt(v + eps));
    }
  });
  float *dgamma = c.out[1] ? c.out[1]->f() : c.scratch.get(2, D);
  float *dbeta = c.out[2] ? c.out[2]->f() : nullptr;
  cpu::layernormBackward(c.out[0]->f(), dgamma, dbeta, dy.f(), xp, gamma.f(),
                         mean, rstd, rows, D, false, c.pool);
}

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

void splitConcat(KernelContext &c, bool split) {
  const Tensor &whole = split ? *c.in[0] : *c.out[0];
  int64_t axis = normAxis(attrInt(c.kernel, "axis"), whole.shape.size());
  int64_t outer, len, inner;
  aroundAxis(whole.shape, axis, outer, len, inner);
  size_t parts = split ? c.out.size() : c.in.size();
  std::vector<int64_t> offset(parts + 1, 0);
  for (size_t i = 0; i < parts; ++i) {
    const Tensor &p = split ? *c.out[i] : *c.in[i];
    offset[i + 1] = offset[i] + p.shape[axis] * inner;
  }
  int64_t rowLen = len * inner;
  char *base = static_cast<char *>(whole.data);
  c.pool.parallelFor(outer, grainFor(rowLen), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (size_t i = 0; i < parts; ++i) {
        const Tensor &p = split ? *c.out[i] : *c.in[i];
        int64_t n = offset[i + 1] - offset[i];
        char *w = base + (o * rowLen + offset[i]) * 4;
        char *q = static_cast<char *>(p.data) + o * n * 4;
        if (split)
          std::memmove(q, w, n * 4);
        else
          std::memmove(w, q, n * 4);
      }
  });
}

void transpose(KernelContext &c) {
  const Tensor &x = *c.in[0], &y = *c.out[0];
  std::vector<int64_t> perm = attrInts(c.kernel, "permutation");
  size_t rank = x.shape.size();
  if (rank == 0 || y.numel == 0) {
    if (y.numel)
      std::memcpy(y.data, x.data, 4);
    return;
  }
  std::vector<int64_t> xStride(rank, 1);
  for (size_t d = rank - 1; d > 0; --d)
    xStride[d - 1] = xStride[d] * x.shape[d];
  // Source stride of each output dim.
  std::vector<int64_t> srcStride(rank);
  for (size_t d = 0; d < rank; ++d)
    srcStride[d] = xStride[perm[d]];
  int64_t inner = y.shape[rank - 1], innerStride = srcStride[rank - 1];
  int64_t rows = y.numel / inner;
  const uint32_t *src = static_cast<const uint32_t *>(x.data);
  uint32_t *dst = static_cast<uint32_t *>(y.data);
  c.pool.parallelFor(rows, grainFor(inner), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t rem = r, off = 0;
      for (size_t d = rank - 1; d > 0; --d) {
        int64_t idx = rem % y.shape[d - 1];
        rem /= y.shape[d - 1];
        off += idx * srcStride[d - 1];
      }
      uint32_t *o = dst + r * inner;
      const uint32_t *s = src + off;
      if (innerStride == 1)
        std::memcpy(o, s, inner * 4);
      else
        for (int64_t j = 0; j < inner; ++j)
          o[j] = s[j * innerStride];
    }
  });
}

void softmax(KernelContext &c, bool grad) {
  const Tensor &x = *c.in[0], &y = *c.out[0];
  int64_t axis = normAxis(attrInt(c.kernel, "axis"), x.shape.size());
  int64_t outer, len, inner;
  aroundAxis(x.shape, axis, outer, len, inner);
  if (inner == 1) {
    if (grad)
      cpu::softmaxBackward(y.f(), x.f(), c.in[1]->f(), outer, len, c.pool);
    else
      cpu::softmaxForward(y.f(), x.f(), outer, len, c.pool);
    return;
  }
  // Strided: one (outer, inner) line per task element.
  const float *xp = x.f(), *yp = grad ? c.in[1]->f() : nullptr;
  float *op = y.f();
  c.pool.parallelFor(outer * inner, grainFor(len), [&](int64_t b, int64_t e) {
    for (int64_t l = b; l < e; ++l) {
      int64_t base = (l / inner) * len * inner + l % inner;
      if (grad) {
        double dot = 0;
        for (int64_t j = 0; j < len; ++j)
          dot += double(xp[base + j * inner]) * yp[base + j * inner];
        for (int64_t j = 0; j < len; ++j) {
          int64_t at = base + j * inner;
          op[at] = yp[at] * (xp[at] - float(dot));
        }
      } else {
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < len; ++j)
          m = std::max(m, xp[base + j * inner]);
        double s = 0;
        for (int64_t j = 0; j < len; ++j) {
          int64_t at = base + j * inner;
          float ex = std::exp(xp[at] - m);
          op[at] = ex;
          s += ex;
        }
        float inv = float(1.0 / s);
        for (int64_t j = 0; j < len; ++j)
          op[base + j * inner] *= inv;
      }
    }
  });
}

/// scaled_masked_softmax (softmax=true) and causal_mask (softmax=false).
void maskedRows(KernelContext &c, bool softmax) {
  const Tensor &x = *c.in[0], &y = *c.out[0];
  size_t rank = x.shape.size();
  int64_t T = x.shape[rank - 2], S = x.shape[rank - 1];
  int64_t rows = x.numel / std::max<int64_t>(S, 1);
  bool causal = softmax ? attrBool(c.kernel, "causal") : true;
  float scale = softmax ? attrFloat(c.kernel, "scale") : 1.0f;
  float fill = softmax ? 0.0f : attrFloat(c.kernel, "fill");
  const float *xp = x.f();
  float *yp = y.f();
  c.pool.parallelFor(rows, grainFor(S), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t i = r % T;
      int64_t limit = causal ? std::min(S, i + S - T + 1) : S; // j < limit
      limit = std::max<int64_t>(limit, 0);
      const float *in = xp + r * S;
      float *out = yp + r * S;
      if (!softmax) {
        for (int64_t j = 0; j < S; ++j)
          out[j] = j < limit ? in[j] : fill;
        continue;
      }
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < limit; ++j)
        m = std::max(m, scale * in[j]);
      double s = 0;
      for (int64_t j = 0; j < limit; ++j) {
        float ex = std::exp(scale * in[j] - m);
        out[j] = ex;
        s += ex;
      }
      float inv = s > 0 ? float(1.0 / s) : 0.0f;
      for (int64_t j = 0; j < limit; ++j)
        out[j] *= inv;
      for (int64_t j = limit; j < S; ++j)
        out[j] = 0.0f;
    }
  });
}

/// Copies q, k, v [B, T, D] into packed qkv [B, T, 3D] (pack) or back.
void packQkv(float *qkv, const Tensor *q, const Tensor *k, const Tensor *v,
             int64_t BT, int64_t D, bool pack, ThreadPool &pool) {
  const Tensor *parts[3] = {q, k, v};
  pool.parallelFor(BT, grainFor(3 * D), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int p = 0; p < 3; ++p) {
        if (!parts[p])
          continue;
        float *packed = qkv + r * 3 * D + p * D;
        float *plain = parts[p]->f() + r * D;
        if (pack)
          std::memcpy(packed, plain, D * sizeof(float));
        else
          std::memcpy(plain, packed, D * sizeof(float));
      }
  });
}

/// Rows of one of q, k, v, o (or their gradients): row r of batch b starts
/// at data + (b * rows + r) * stride; head h at + h * Dh.
struct Rows {
  float *data;
  int64_t stride;
  float *at(int64_t b, int64_t rows, int64_t r, int64_t h, int64_t Dh) const {
    return data + (b * rows + r) * stride + h * Dh;
  }
};

struct AttentionDims {
  int64_t B, T, S, H, Dh;
  float scale;
  bool causal;
  /// Keys j < limit(i) are visible to query i.
  int64_t limit(int64_t i) const {
    return causal ? std::max<int64_t>(0, std::min(S, i + S - T + 1)) : S;
  }
};

/// Attention for the cases the flash kernel does not cover (k/v longer than
/// q, non-causal, strided operands): one (b, h, i) row per task element with
/// an online softmax; O(T * S * Dh) time, O(Dh) memory per task.
void attentionNaive(Rows q, Rows k, Rows v, Rows o, float *lse,
                    const AttentionDims &a, ThreadPool &pool) {
  const int64_t T = a.T, S = a.S, H = a.H, Dh = a.Dh;
  pool.parallelFor(a.B * H * T, grainFor(S * Dh), [&](int64_t b0, int64_t e0) {
    std::vector<float> acc(Dh);
    for (int64_t idx = b0; idx < e0; ++idx) {
      int64_t i = idx % T, h = (idx / T) % H, b = idx / (T * H);
      const float *qr = q.at(b, T, i, h, Dh);
      float m = -std::numeric_limits<float>::infinity();
      double l = 0;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t j = 0, limit = a.limit(i); j < limit; ++j) {
        const float *kr = k.at(b, S, j, h, Dh), *vr = v.at(b, S, j, h, Dh);
        float s = 0;
        for (int64_t d = 0; d < Dh; ++d)
          s += qr[d] * kr[d];
        s *= a.scale;
        if (s > m) {
          float corr = std::exp(m - s);
          l *= corr;
          for (int64_t d = 0; d < Dh; ++d)
            acc[d] *= corr;
          m = s;
        }
        float p = std::exp(s - m);
        l += p;
        for (int64_t d = 0; d < Dh; ++d)
          acc[d] += p * vr[d];
      }
      float *orow = o.at(b, T, i, h, Dh);
      float inv = l > 0 ? float(1.0 / l) : 0.0f;
      for (int64_t d = 0; d < Dh; ++d)
        orow[d] = acc[d] * inv;
      lse[(b * H + h) * T + i] = l > 0 ? m + float(std::log(l)) : m;
    }
  });
}

/// Backward of attentionNaive from the saved o and lse. Tasks: (b, h); each
/// owns its head's slices of dq, dk and dv (deterministic).
void attentionNaiveBackward(Rows dout, Rows q, Rows k, Rows v, Rows o,
                            const float *lse, Rows dq, Rows dk, Rows dv,
                            const AttentionDims &a, ThreadPool &pool) {
  const int64_t T = a.T, S = a.S, H = a.H, Dh = a.Dh;
  pool.parallelFor(a.B * H, 1, [&](int64_t b0, int64_t e0) {
    for (int64_t bh = b0; bh < e0; ++bh) {
      int64_t b = bh / H, h = bh % H;
      for (int64_t i = 0; i < T; ++i)
        std::fill(dq.at(b, T, i, h, Dh), dq.at(b, T, i, h, Dh) + Dh, 0.0f);
      for (int64_t j = 0; j < S; ++j) {
        std::fill(dk.at(b, S, j, h, Dh), dk.at(b, S, j, h, Dh) + Dh, 0.0f);
        std::fill(dv.at(b, S, j, h, Dh), dv.at(b, S, j, h, Dh) + Dh, 0.0f);
      }
      for (int64_t i = 0; i < T; ++i) {
        const float *qr = q.at(b, T, i, h, Dh), *gr = dout.at(b, T, i, h, Dh);
        const float *orow = o.at(b, T, i, h, Dh);
        float *dqr = dq.at(b, T, i, h, Dh);
        float rowLse = lse[(b * H + h) * T + i];
        float di = 0;
        for (int64_t d = 0; d < Dh; ++d)
          di += gr[d] * orow[d];
        for (int64_t j = 0, limit = a.limit(i); j < limit; ++j) {
          const float *kr = k.at(b, S, j, h, Dh), *vr = v.at(b, S, j, h, Dh);
          float s = 0, dp = 0;
          for (int64_t d = 0; d < Dh; ++d) {
            s += qr[d] * kr[d];
            dp += gr[d] * vr[d];
          }
          float p = std::exp(a.scale * s - rowLse);
          float ds = p * (dp - di) * a.scale;
          float *dkr = dk.at(b, S, j, h, Dh), *dvr = dv.at(b, S, j, h, Dh);
          for (int64_t d = 0; d < Dh; ++d) {
            dvr[d] += p * gr[d];
            dqr[d] += ds * kr[d];
            dkr[d] += ds * qr[d];
          }
        }
      }
    }
  });
}

void attention(KernelContext &c, bool packed) {
  const Tensor &q = *c.in[0];
  int64_t B = q.shape[0], T = q.shape[1];
  int64_t D = packed ? q.shape[2] / 3 : q.shape[2];
  int64_t S = packed ? T : c.in[1]->shape[1];
  AttentionDims a{B,
                  T,
                  S,
                  attrInt(c.kernel, "num_heads"),
                  0,
                  attrFloat(c.kernel, "scale"),
                  attrBool(c.kernel, "causal", true)};
  a.Dh = D / a.H;
  float *lse = c.out[1] ? c.out[1]->f() : c.scratch.get(0, B * a.H * T);
  float *o = c.out[0]->f();
  if (a.causal && S == T) { // the flash kernel
    const float *qkv = q.f();
    if (!packed) {
      float *buf = c.scratch.get(1, B * T * 3 * D);
      packQkv(buf, c.in[0], c.in[1], c.in[2], B * T, D, true, c.pool);
      qkv = buf;
    }
    cpu::attentionForward(o, lse, qkv, B, T, a.H, a.Dh, a.scale, c.pool);
    return;
  }
  if (packed)
    attentionNaive({q.f(), 3 * D}, {q.f() + D, 3 * D}, {q.f() + 2 * D, 3 * D},
                   {o, D}, lse, a, c.pool);
  else
    attentionNaive({q.f(), D}, {c.in[1]->f(), D}, {c.in[2]->f(), D}, {o, D},
                   lse, a, c.pool);
}

void attentionGrad(KernelContext &c, bool packed) {
  const Tensor &dout = *c.in[0];
  int64_t B = dout.shape[0], T = dout.shape[1], D = dout.shape[2];
  int64_t S = packed ? T : c.in[2]->shape[1];
  AttentionDims a{B,
                  T,
                  S,
                  attrInt(c.kernel, "num_heads"),
                  0,
                  attrFloat(c.kernel, "scale"),
                  attrBool(c.kernel, "causal", true)};
  a.Dh = D / a.H;
  const Tensor &o = *c.in[packed ? 2 : 4], &lse = *c.in[packed ? 3 : 5];
  if (packed) {
    float *qkv = c.in[1]->f(), *dqkv = c.out[0]->f();
    if (a.causal)
      cpu::attentionBackward(dqkv, dout.f(), qkv, o.f(), lse.f(), B, T, a.H,
                             a.Dh, a.scale, c.pool);
    else
      attentionNaiveBackward({dout.f(), D}, {qkv, 3 * D}, {qkv + D, 3 * D},
                             {qkv + 2 * D, 3 * D}, {o.f(), D}, lse.f(),
                             {dqkv, 3 * D}, {dqkv + D, 3 * D},
                             {dqkv + 2 * D, 3 * D}, a, c.pool);
    return;
  }
  if (a.causal && S == T) {
    float *qkv = c.scratch.get(1, B * T * 3 * D);
    float *dqkv = c.scratch.get(2, B * T * 3 * D);
    packQkv(qkv, c.in[1], c.in[2], c.in[3], B * T, D, true, c.pool);
    cpu::attentionBackward(dqkv, dout.f(), qkv, o.f(), lse.f(), B, T, a.H, a.Dh,
                           a.scale, c.pool);
    packQkv(dqkv, c.out[0], c.out[1], c.out[2], B * T, D, false, c.pool);
    return;
  }
  float *dq = c.out[0] ? c.out[0]->f() : c.scratch.get(3, B * T * D);
  float *dk = c.out[1] ? c.out[1]->f() : c.scratch.get(4, B * S * D);
  float *dv = c.out[2] ? c.out[2]->f() : c.scratch.get(5, B * S * D);
  attentionNaiveBackward({dout.f(), D}, {c.in[1]->f(), D}, {c.in[2]->f(), D},
                         {c.in[3]->f(), D}, {o.f(), D}, lse.f(), {dq, D},
                         {dk, D}, {dv, D}, a, c.pool);
}

void copy(KernelContext &c) {
  if (c.out[0]->data != c.in[0]->data)
    std::memmove(c.out[0]->data, c.in[0]->data,
                 static_cast<size_t>(c.in[0]->numel) * 4);
}

void crossEntropy(KernelContext &c, bool grad) {
  size_t base = grad ? 1 : 0;
  const Tensor &logits = *c.in[base], &targets = *c.in[base + 1];
  const float *weights = c.in[base + 2] ? c.in[base + 2]->f() : nullptr;
  int64_t V = logits.last(), N = logits.rows();
  float *lse = c.scratch.get(0, N);
  float loss = cpu::crossEntropyForward(nullptr, lse, logits.f(), targets.i(),
                                        weights, N, V, c.pool);
  if (!grad) {
    c.out[0]->f()[0] = loss;
    return;
  }
  cpu::crossEntropyBackward(c.out[0]->f(), logits.f(), lse, targets.i(),
                            weights, N, V, c.in[0]->f()[0], c.pool);
}

void sumLeading(KernelContext &c) {
  const Tensor &x = *c.in[0], &y = *c.out[0];
  int64_t S = y.numel, R = S ? x.numel / S : 0;
  const float *xp = x.f();
  float *yp = y.f();
  c.pool.parallelFor(S, 256, [&](int64_t b, int64_t e) {
    std::fill(yp + b, yp + e, 0.0f);
    for (int64_t r = 0; r < R; ++r) {
      const float *row = xp + r * S;
      for (int64_t j = b; j < e; ++j)
        yp[j] += row[j];
    }
  });
}

void fill(KernelContext &c) {
  const Tensor &y = *c.out[0];
  float value = attrFloat(c.kernel, "value");
  if (y.dtype == DType::F32) {
    std::fill(y.f(), y.f() + y.numel, value);
  } else {
    if (!(value >= -2147483648.0f && value <= 2147483520.0f))
      error("fill value " + std::to_string(value) + " does not fit i32");
    std::fill(y.i(), y.i() + y.numel, static_cast<int32_t>(value));
  }
}

void globalNorm(KernelContext &c) {
  std::vector<cpu::TensorSpan> spans;
  for (const Tensor *t : c.in)
    spans.push_back({t->f(), t->numel});
  double norm = cpu::globalGradNorm(spans.data(),
                                    static_cast<int64_t>(spans.size()), c.pool);
  c.out[0]->f()[0] = static_cast<float>(norm);
}

/// The step counter (an i32 scalar); a negative one is an error.
int64_t stepOf(const Tensor &t, const char *kernel) {
  int32_t step = t.i()[0];
  if (step < 0)
    error(std::string(kernel) + ": step " + std::to_string(step) +
          " is negative");
  return step;
}

float lrAt(int64_t step, const float *hp) {
  double lr = hp[0], minLr = hp[1], warmup = hp[2], total = hp[3];
  double s = static_cast<double>(step);
  if (s < warmup)
    return float(lr * (s + 1) / warmup);
  if (s >= total)
    return float(minLr);
  double progress = (s - warmup) / (total - warmup);
  return float(minLr + 0.5 * (lr - minLr) * (1.0 + std::cos(M_PI * progress)));
}

void lrSchedule(KernelContext &c) {
  c.out[0]->f()[0] = lrAt(stepOf(*c.in[0], "lr_schedule"), c.in[1]->f());
}

void adamw(KernelContext &c) {
  const float *hp = c.in[7]->f();
  int64_t step = stepOf(*c.in[6], "adamw");
  cpu::AdamWParams params;
  params.lr = c.in[4]->f()[0];
  params.beta1 = hp[4];
  params.beta2 = hp[5];
  params.eps = hp[6];
  params.weightDecay = attrBool(c.kernel, "decay") ? hp[7] : 0.0f;
  params.step = step + 1;
  params.gradScale = c.in[5] ? cpu::clipScale(c.in[5]->f()[0], hp[8]) : 1.0f;
  // Outputs are the updated p, m, v; copy first if they are other buffers.
  int64_t n = c.in[0]->numel;
  for (int i = 0; i < 3; ++i) {
    const Tensor *src = c.in[i == 0 ? 0 : i + 1];
    if (c.out[i]->data != src->data)
      std::memmove(c.out[i]->data, src->data, n * sizeof(float));
  }
  cpu::adamwUpdate(c.out[0]->f(), c.in[1]->f(), c.out[1]->f(), c.out[2]->f(), n,
                   params, c.pool);
}

} // namespace

/// The CPU function of each registry kernel (nullptr: none, e.g. `alias`).
/// A switch over every KernelId: a kernel added to Kernels.def without a CPU
/// function is a -Wswitch warning here.
KernelFn cpuKernel(KernelId id) {
  switch (id) {
  case KernelId::Embedding:
    return [](KernelContext &c) { embedding(c); };
  case KernelId::PositionEmbedding:
    return [](KernelContext &c) { positionEmbedding(c); };
  case KernelId::KvCacheWrite:
    return [](KernelContext &c) { kvCacheWrite(c); };
  case KernelId::PagedAttention:
    return [](KernelContext &c) { pagedAttention(c); };
  case KernelId::TakeLast:
    return [](KernelContext &c) { takeLast(c); };
  case KernelId::Layernorm:
    return [](KernelContext &c) { layernorm(c); };
  case KernelId::Linear:
    return [](KernelContext &c) { linear(c); };
  case KernelId::Matmul:
    return [](KernelContext &c) { matmul(c); };
  case KernelId::Split:
    return [](KernelContext &c) { splitConcat(c, true); };
  case KernelId::Concat:
    return [](KernelContext &c) { splitConcat(c, false); };
  case KernelId::Transpose:
    return [](KernelContext &c) { transpose(c); };
  case KernelId::Softmax:
    return [](KernelContext &c) { softmax(c, false); };
  case KernelId::SoftmaxGrad:
    return [](KernelContext &c) { softmax(c, true); };
  case KernelId::ScaledMaskedSoftmax:
    return [](KernelContext &c) { maskedRows(c, true); };
  case KernelId::CausalMask:
    return [](KernelContext &c) { maskedRows(c, false); };
  case KernelId::Attention:
    return [](KernelContext &c) { attention(c, false); };
  case KernelId::AttentionQkv:
    return [](KernelContext &c) { attention(c, true); };
  case KernelId::AttentionGrad:
    return [](KernelContext &c) { attentionGrad(c, false); };
  case KernelId::AttentionQkvGrad:
    return [](KernelContext &c) { attentionGrad(c, true); };
  case KernelId::CrossEntropy:
    return [](KernelContext &c) { crossEntropy(c, false); };
  case KernelId::CrossEntropyGrad:
    return [](KernelContext &c) { crossEntropy(c, true); };
  case KernelId::Elementwise:
    return [](KernelContext &c) { runElementwise(c); };
  case KernelId::Copy:
    return [](KernelContext &c) { copy(c); };
  case KernelId::SumLeading:
    return [](KernelContext &c) { sumLeading(c); };
  case KernelId::EmbeddingGrad:
    return [](KernelContext &c) { embeddingGrad(c); };
  case KernelId::PositionEmbeddingGrad:
    return [](KernelContext &c) { positionEmbeddingGrad(c); };
  case KernelId::LayernormGrad:
    return [](KernelContext &c) { layernormGrad(c); };
  case KernelId::LinearWeightGrad:
    return [](KernelContext &c) { linearWeightGrad(c); };
  case KernelId::Fill:
    return [](KernelContext &c) { fill(c); };
  case KernelId::GlobalNorm:
    return [](KernelContext &c) { globalNorm(c); };
  case KernelId::LrSchedule:
    return [](KernelContext &c) { lrSchedule(c); };
  case KernelId::Adamw:
    return [](KernelContext &c) { adamw(c); };
  case KernelId::Alias:
    return nullptr;
  case KernelId::Count:
    break;
  }
  return nullptr;
}

KernelFn resolveKernel(const std::string &name) {
  std::optional<KernelId> id = kernelByName(name);
  KernelFn fn = id ? cpuKernel(*id) : nullptr;
  if (!fn)
    error("no CPU kernel '" + name + "'");
  return fn;
}

} // namespace gpt::exec
