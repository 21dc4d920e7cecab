//===- DataKernels.cpp - CPU kernels: embeddings, layout ------------------===//
//
// Part of the CPU executor's kernel table (KernelsInternal.h); the Vulkan
// executor's runtime/vulkan/kernels/DataKernels.cpp records the same kernels.
//
//===----------------------------------------------------------------------===//
#include "runtime/executor/KernelsInternal.h"
#include "runtime/executor/RuntimeChecks.h"

#include "runtime/cpu/Embedding.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace gpt::exec {
namespace {

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

void copy(KernelContext &c) {
  if (c.out[0]->data != c.in[0]->data)
    std::memmove(c.out[0]->data, c.in[0]->data,
                 static_cast<size_t>(c.in[0]->numel) * 4);
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

} // namespace

void registerDataKernels(CpuKernelTable &table) {
  table[static_cast<size_t>(KernelId::Embedding)] = [](KernelContext &c) {
    embedding(c);
  };
  table[static_cast<size_t>(KernelId::PositionEmbedding)] =
      [](KernelContext &c) { positionEmbedding(c); };
  table[static_cast<size_t>(KernelId::KvCacheWrite)] = [](KernelContext &c) {
    kvCacheWrite(c);
  };
  table[static_cast<size_t>(KernelId::TakeLast)] = [](KernelContext &c) {
    takeLast(c);
  };
  table[static_cast<size_t>(KernelId::Split)] = [](KernelContext &c) {
    splitConcat(c, true);
  };
  table[static_cast<size_t>(KernelId::Concat)] = [](KernelContext &c) {
    splitConcat(c, false);
  };
  table[static_cast<size_t>(KernelId::Transpose)] = [](KernelContext &c) {
    transpose(c);
  };
  table[static_cast<size_t>(KernelId::Copy)] = [](KernelContext &c) {
    copy(c);
  };
  table[static_cast<size_t>(KernelId::SumLeading)] = [](KernelContext &c) {
    sumLeading(c);
  };
  table[static_cast<size_t>(KernelId::EmbeddingGrad)] = [](KernelContext &c) {
    embeddingGrad(c);
  };
  table[static_cast<size_t>(KernelId::PositionEmbeddingGrad)] =
      [](KernelContext &c) { positionEmbeddingGrad(c); };
  table[static_cast<size_t>(KernelId::Fill)] = [](KernelContext &c) {
    fill(c);
  };
}

} // namespace gpt::exec
