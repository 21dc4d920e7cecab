//===- DataKernels.cpp - fill, copy, layout and embedding kernels ---------===//
//
// Data movement and embeddings. Range checks the CPU executor does at run
// time (token ids, positions, block tables) are done here on the host when
// the operand is a function input (DeviceTensor::host), with the CPU's
// wording; shaders clamp or skip what the host could not see.
//
//===----------------------------------------------------------------------===//
#include "runtime/executor/Executor.h"
#include "runtime/executor/RuntimeChecks.h"
#include "runtime/vulkan/KernelContext.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace gpt::vk {
namespace {

[[noreturn]] void error(const std::string &what) { throw ExecutorError(what); }

int64_t normAxis(int64_t axis, size_t rank) {
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}

uint32_t groups(KernelContext &ctx, int64_t n, uint32_t local = 256) {
  return groupsFor(n, local, ctx.rec.caps());
}

void recordFill(KernelContext &ctx) {
  const DeviceTensor &y = *ctx.out[0];
  struct {
    uint64_t y;
    uint32_t n;
    int32_t bits;
  } push{y.address, u32(y.numel), 0};
  static_assert(sizeof push == 16);
  float v = attrFloat(ctx.kernel, "value");
  if (y.dtype == DType::F32) {
    std::memcpy(&push.bits, &v, 4);
  } else {
    if (!(v >= -2147483648.0f && v <= 2147483520.0f))
      error("fill value " + std::to_string(v) + " does not fit i32");
    push.bits = static_cast<int32_t>(v);
  }
  if (y.numel > 0)
    ctx.rec.dispatch("fill", &push, sizeof push, groups(ctx, y.numel));
}

void copyBits(KernelContext &ctx, uint64_t from, uint64_t to, int64_t n) {
  if (from == to || n == 0)
    return;
  struct {
    uint64_t x, y;
    uint32_t n;
  } push{from, to, u32(n)};
  static_assert(sizeof push == 24);
  ctx.rec.dispatch("copy", &push, sizeof push, groups(ctx, n));
}

void recordCopy(KernelContext &ctx) {
  copyBits(ctx, ctx.in[0]->address, ctx.out[0]->address, ctx.out[0]->numel);
}

void recordSplitConcat(KernelContext &ctx, bool split) {
  const DeviceTensor &whole = split ? *ctx.in[0] : *ctx.out[0];
  const auto &parts = split ? ctx.out : ctx.in;
  int64_t axis = normAxis(attrInt(ctx.kernel, "axis"), whole.shape.size());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= whole.shape[d];
  for (size_t d = axis + 1; d < whole.shape.size(); ++d)
    inner *= whole.shape[d];
  int64_t rowLen = whole.shape[axis] * inner, offset = 0;
  for (const DeviceTensor *part : parts) {
    int64_t n = part->shape[axis] * inner;
    struct {
      uint64_t whole, part;
      uint32_t total, n, rowLen, offset, toWhole;
    } push{whole.address, part->address, u32(outer * n), u32(n),
           u32(rowLen),   u32(offset),   split ? 0u : 1u};
    static_assert(sizeof push == 40);
    if (outer * n > 0)
      ctx.rec.dispatch("split", &push, sizeof push, groups(ctx, outer * n));
    offset += n;
  }
}

void recordSplit(KernelContext &ctx) { recordSplitConcat(ctx, true); }
void recordConcat(KernelContext &ctx) { recordSplitConcat(ctx, false); }

/// Transpose after dropping size-1 dims and merging runs of y dims that are
/// also adjacent in x: an identity becomes a copy, a swap of two blocks
/// (optionally under a leading batch block) the shared-memory tiled shader,
/// anything else the general gather.
void recordTranspose(KernelContext &ctx) {
  const DeviceTensor &x = *ctx.in[0], &y = *ctx.out[0];
  if (y.numel == 0)
    return;
  std::vector<int64_t> perm = attrInts(ctx.kernel, "permutation");
  size_t rank = x.shape.size();
  // Kept x dims (size > 1), renumbered.
  std::vector<int64_t> newIndex(rank, -1);
  int64_t kept = 0;
  for (size_t d = 0; d < rank; ++d)
    if (x.shape[d] > 1)
      newIndex[d] = kept++;
  std::vector<int64_t> p;
  for (size_t i = 0; i < rank; ++i)
    if (newIndex[perm[i]] >= 0)
      p.push_back(newIndex[perm[i]]);
  std::vector<int64_t> xs;
  for (size_t d = 0; d < rank; ++d)
    if (x.shape[d] > 1)
      xs.push_back(x.shape[d]);
  // Groups of consecutive y dims that are consecutive x dims: (first x dim,
  // count), in y order.
  std::vector<std::pair<int64_t, int64_t>> runs;
  for (size_t i = 0; i < p.size(); ++i) {
    if (!runs.empty() && p[i] == runs.back().first + runs.back().second)
      ++runs.back().second;
    else
      runs.push_back({p[i], 1});
  }
  size_t r = runs.size();
  if (r <= 1) {
    copyBits(ctx, x.address, y.address, y.numel);
    return;
  }
  // Merged x dims in x order, and the merged permutation.
  std::vector<size_t> byX(r);
  for (size_t i = 0; i < r; ++i)
    byX[i] = i;
  std::sort(byX.begin(), byX.end(),
            [&](size_t a, size_t b) { return runs[a].first < runs[b].first; });
  std::vector<int64_t> mx(r), mperm(r), size(r);
  for (size_t i = 0; i < r; ++i) {
    size[i] = 1;
    for (int64_t d = 0; d < runs[i].second; ++d)
      size[i] *= xs[runs[i].first + d];
  }
  for (size_t j = 0; j < r; ++j) {
    mx[j] = size[byX[j]];
    mperm[byX[j]] = static_cast<int64_t>(j);
  }
  bool swap2 = r == 2; // mperm is (1, 0)
  bool batched = r == 3 && mperm[0] == 0 && mperm[1] == 2 && mperm[2] == 1;
  if (swap2 || batched) {
    int64_t batch = batched ? mx[0] : 1, R = mx[r - 2], C = mx[r - 1];
    struct {
      uint64_t x, y;
      uint32_t R, C, batch;
    } push{x.address, y.address, u32(R), u32(C), u32(batch)};
    static_assert(sizeof push == 32);
    u32(y.numel);
    int64_t gx = (C + 31) / 32, gy = (R + 31) / 32;
    if (gx > ctx.rec.caps().maxGroupCountX || gy > 65535)
      throw std::runtime_error("vulkan: transpose of " + std::to_string(R) +
                               " x " + std::to_string(C) +
                               " exceeds one dispatch grid");
    ctx.rec.dispatch("transpose_tiled", &push, sizeof push, uint32_t(gx),
                     uint32_t(gy), uint32_t(std::min<int64_t>(batch, 65535)));
    return;
  }
  std::vector<int64_t> xStride(r, 1);
  for (size_t d = r - 1; d > 0; --d)
    xStride[d - 1] = xStride[d] * mx[d];
  struct {
    uint64_t x, y;
    uint32_t n, rank;
    uint32_t dims[8], srcStride[8];
  } push{x.address, y.address, u32(y.numel), static_cast<uint32_t>(r), {}, {}};
  static_assert(sizeof push == 88);
  for (size_t i = 0; i < r; ++i) {
    push.dims[i] = u32(mx[mperm[i]]);
    push.srcStride[i] = u32(xStride[mperm[i]]);
  }
  ctx.rec.dispatch("transpose", &push, sizeof push, groups(ctx, y.numel));
}

void recordTakeLast(KernelContext &ctx) {
  const DeviceTensor &x = *ctx.in[0], &y = *ctx.out[0];
  int64_t B = x.shape[0], T = x.shape[1], D = x.shape[2];
  if (y.numel == 0)
    return;
  struct {
    uint64_t x, y;
    uint32_t n, T, D;
  } push{x.address, y.address, u32(B * D), u32(T), u32(D)};
  static_assert(sizeof push == 32);
  u32(x.numel);
  ctx.rec.dispatch("take_last", &push, sizeof push, groups(ctx, B * D));
}

void checkIds(const DeviceTensor &ids, int64_t V) {
  if (ids.host)
    checkTokenIds(static_cast<const int32_t *>(ids.host), ids.numel, V);
}

void recordEmbedding(KernelContext &ctx) {
  const DeviceTensor &table = *ctx.in[0], &ids = *ctx.in[1], &y = *ctx.out[0];
  int64_t V = table.shape[0], D = table.shape[1];
  checkIds(ids, V);
  if (y.numel == 0)
    return;
  struct {
    uint64_t table, ids, y;
    uint32_t n, D, V;
  } push{table.address, ids.address, y.address, u32(y.numel), u32(D), u32(V)};
  static_assert(sizeof push == 40);
  u32(table.numel);
  ctx.rec.dispatch("embedding", &push, sizeof push, groups(ctx, y.numel));
}

void recordEmbeddingGrad(KernelContext &ctx) {
  const DeviceTensor &dy = *ctx.in[0], &ids = *ctx.in[1], &dt = *ctx.out[0];
  int64_t V = dt.shape[0], D = dt.shape[1];
  checkIds(ids, V);
  if (dt.numel == 0)
    return;
  struct {
    uint64_t dy, ids, dt;
    uint32_t N, D, V;
  } push{dy.address, ids.address, dt.address, u32(ids.numel), u32(D), u32(V)};
  static_assert(sizeof push == 40);
  u32(dy.numel);
  u32(dt.numel);
  ctx.rec.dispatch("embedding_grad", &push, sizeof push,
                   groupsFor(V, 16, ctx.rec.caps()));
}

void recordPositionEmbedding(KernelContext &ctx) {
  const DeviceTensor &table = *ctx.in[0], &ids = *ctx.in[1], &y = *ctx.out[0];
  const DeviceTensor *start = ctx.in.size() > 2 ? ctx.in[2] : nullptr;
  int64_t C = table.shape[0], D = table.shape[1];
  int64_t B = ids.shape[0], T = ids.shape[1];
  if (!start || start->host)
    checkPositions(start ? static_cast<const int32_t *>(start->host) : nullptr,
                   B, T, C);
  if (y.numel == 0)
    return;
  struct {
    uint64_t table, start, y;
    uint32_t n, T, D, C, hasStart;
  } push{table.address, start ? start->address : 0,
         y.address,     u32(y.numel),
         u32(T),        u32(D),
         u32(C),        start ? 1u : 0u};
  static_assert(sizeof push == 48);
  u32(table.numel);
  ctx.rec.dispatch("position_embedding", &push, sizeof push,
                   groups(ctx, y.numel));
}

/// gpt.rope (shaders/rope.comp): one invocation per rotated pair, plus one
/// per column past `columns` unless y is x.
void recordRope(KernelContext &ctx) {
  const DeviceTensor &x = *ctx.in[0], &y = *ctx.out[0];
  const DeviceTensor *start = ctx.in.size() > 1 ? ctx.in[1] : nullptr;
  int64_t B = x.shape[0], T = x.shape[1], D = x.shape[2];
  int64_t columns = attrInt(ctx.kernel, "columns");
  if (start && start->host)
    for (int64_t b = 0; b < B; ++b)
      if (static_cast<const int32_t *>(start->host)[b] < 0)
        throw ExecutorError("rope: sequence " + std::to_string(b) +
                            " starts at a negative position");
  bool inPlace = x.address == y.address;
  int64_t perRow = columns / 2 + (inPlace ? 0 : D - columns);
  if (B * T == 0 || perRow == 0)
    return;
  struct {
    uint64_t x, y, start;
    uint32_t rows, T, D, headDim, columns, perRow;
    float log2Theta, direction;
    uint32_t hasStart;
  } push{x.address,
         y.address,
         start ? start->address : 0,
         u32(B * T),
         u32(T),
         u32(D),
         u32(attrInt(ctx.kernel, "head_dim")),
         u32(columns),
         u32(perRow),
         float(std::log2(double(attrFloat(ctx.kernel, "theta")))),
         attrBool(ctx.kernel, "inverse") ? -1.0f : 1.0f,
         start ? 1u : 0u};
  static_assert(sizeof push == 64);
  u32(B * T * perRow);
  u32(x.numel);
  ctx.rec.dispatch("rope", &push, sizeof push, groups(ctx, B * T * perRow));
}

void recordPositionEmbeddingGrad(KernelContext &ctx) {
  const DeviceTensor &dy = *ctx.in[0], &dt = *ctx.out[0];
  int64_t B = dy.shape[0], T = dy.shape[1], D = dy.shape[2];
  int64_t C = dt.shape[0];
  if (T > C)
    error("sequence length T = " + std::to_string(T) +
          " exceeds the context length " + std::to_string(C));
  if (dt.numel == 0)
    return;
  struct {
    uint64_t dy, dt;
    uint32_t n, B, T, D;
  } push{dy.address, dt.address, u32(dt.numel), u32(B), u32(T), u32(D)};
  static_assert(sizeof push == 32);
  u32(dy.numel);
  ctx.rec.dispatch("position_embedding_grad", &push, sizeof push,
                   groups(ctx, dt.numel));
}

void recordKvCacheWrite(KernelContext &ctx) {
  const DeviceTensor &cache = *ctx.in[0], &x = *ctx.in[1], &table = *ctx.in[2],
                     &start = *ctx.in[3], &out = *ctx.out[0];
  int64_t N = cache.shape[0], BS = cache.shape[1], D = cache.shape[2];
  int64_t B = x.shape[0], T = x.shape[1], NB = table.shape[1];
  if (table.host && start.host)
    checkPagedPositions(static_cast<const int32_t *>(table.host),
                        static_cast<const int32_t *>(start.host), B, T, NB, BS,
                        N);
  copyBits(ctx, cache.address, out.address, cache.numel);
  if (x.numel == 0)
    return;
  struct {
    uint64_t cache, src, table, start;
    uint32_t n, T, D, BS, NB, N;
  } push{out.address, x.address, table.address, start.address, u32(x.numel),
         u32(T),      u32(D),    u32(BS),       u32(NB),       u32(N)};
  static_assert(sizeof push == 56);
  u32(cache.numel);
  u32(NB * BS);
  ctx.rec.dispatch("kv_cache_write", &push, sizeof push, groups(ctx, x.numel));
}

/// Sums in row order; when there are many rows and few columns, in two
/// passes (chunks of rows into scratch partials, then the partials) so the
/// device has enough threads.
void recordSumLeading(KernelContext &ctx) {
  const DeviceTensor &x = *ctx.in[0], &y = *ctx.out[0];
  int64_t S = y.numel, R = S ? x.numel / S : 0;
  if (S == 0)
    return;
  u32(x.numel);
  struct Push {
    uint64_t x, y;
    uint32_t S, R, chunk, chunks;
  };
  static_assert(sizeof(Push) == 32);
  int64_t chunks = std::min<int64_t>((R + 15) / 16, (65536 + S - 1) / S);
  if (chunks <= 1) {
    Push push{
        x.address, y.address, u32(S), u32(R), u32(std::max<int64_t>(R, 1)), 1};
    ctx.rec.dispatch("sum_leading", &push, sizeof push, groups(ctx, S));
    return;
  }
  int64_t chunk = (R + chunks - 1) / chunks;
  chunks = (R + chunk - 1) / chunk;
  uint64_t partial = ctx.rec.scratch(0, size_t(chunks * S) * 4);
  Push first{x.address, partial, u32(S), u32(R), u32(chunk), u32(chunks)};
  ctx.rec.dispatch("sum_leading", &first, sizeof first,
                   groups(ctx, chunks * S));
  Push second{partial, y.address, u32(S), u32(chunks), u32(chunks), 1};
  ctx.rec.dispatch("sum_leading", &second, sizeof second, groups(ctx, S));
}

} // namespace

void registerDataKernels(KernelTable &table) {
  table[KernelId::Fill] = recordFill;
  table[KernelId::Copy] = recordCopy;
  table[KernelId::Split] = recordSplit;
  table[KernelId::Concat] = recordConcat;
  table[KernelId::Transpose] = recordTranspose;
  table[KernelId::TakeLast] = recordTakeLast;
  table[KernelId::Embedding] = recordEmbedding;
  table[KernelId::EmbeddingGrad] = recordEmbeddingGrad;
  table[KernelId::PositionEmbedding] = recordPositionEmbedding;
  table[KernelId::Rope] = recordRope;
  table[KernelId::PositionEmbeddingGrad] = recordPositionEmbeddingGrad;
  table[KernelId::KvCacheWrite] = recordKvCacheWrite;
  table[KernelId::SumLeading] = recordSumLeading;
}

} // namespace gpt::vk
