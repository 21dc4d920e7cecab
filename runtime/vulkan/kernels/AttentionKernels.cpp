//===- AttentionKernels.cpp - attention family on Vulkan ------------------===//
//
// attention(_qkv) forward, attention(_qkv)_grad and paged_attention, all
// flash-style (shaders/attention_fwd.glsl, attention_bwd.glsl): tiles of
// queries (or keys) per workgroup, the other side streamed through shared
// memory, no [T,S] matrix in memory, deterministic (no atomics). The packed
// forms reach q/k/v (and dq/dk/dv) as column offsets of qkv with row stride
// 3D.
//
//===----------------------------------------------------------------------===//
#include "runtime/executor/Executor.h"
#include "runtime/executor/RuntimeChecks.h"
#include "runtime/vulkan/KernelContext.h"

#include <cstdint>
#include <limits>
#include <string>

namespace gpt::vk {
namespace {

[[noreturn]] void error(const std::string &what) { throw ExecutorError(what); }

/// Rows of a tile so that the shaders' shared arrays and 32 accumulators per
/// invocation hold it: rows <= cap, rows * (Dh + 1) <= padded, rows * Dh <=
/// 2048 (64 invocations x 32 registers).
uint32_t tileRows(int64_t Dh, int64_t cap, int64_t padded) {
  int64_t r = std::min({cap, padded / (Dh + 1), int64_t(2048) / Dh});
  return static_cast<uint32_t>(std::max<int64_t>(r, 0));
}

struct AttentionShape {
  int64_t B, T, S, D, H, Dh;
  float scale;
  bool causal;
};

AttentionShape shapeOf(const Kernel &kernel, int64_t B, int64_t T, int64_t S,
                       int64_t D) {
  AttentionShape a{B,
                   T,
                   S,
                   D,
                   attrInt(kernel, "num_heads"),
                   0,
                   attrFloat(kernel, "scale"),
                   attrBool(kernel, "causal", true)};
  if (a.H <= 0 || D % a.H != 0)
    error("num_heads " + std::to_string(a.H) + " does not divide " +
          std::to_string(D));
  a.Dh = D / a.H;
  return a;
}

/// Every operand must be indexable by the shaders.
void checkOperands(const KernelContext &ctx) {
  for (const auto *list : {&ctx.in, &ctx.out})
    for (const DeviceTensor *t : *list)
      if (t && t->numel > kMaxShaderIndex)
        error(ctx.kernel.kernel + ": a tensor of " + std::to_string(t->numel) +
              " elements exceeds the Vulkan shaders' 32-bit indexing (at "
              "most 2^31 - 1)");
}

// --- forward ----------------------------------------------------------------

struct FwdPush {
  uint64_t q, k, v, o, lse;
  uint32_t T, H, Dh, qStride, kvStride, oStride, S, causal, pad0;
  float scale;
  uint32_t BR, BC, pad1;
};
static_assert(sizeof(FwdPush) == 96, "matches attention_fwd.glsl");

void recordForward(KernelContext &ctx, const AttentionShape &a, uint64_t q,
                   uint64_t k, uint64_t v, int64_t qStride, int64_t kvStride) {
  if (a.B * a.T == 0 || a.Dh == 0)
    return;
  uint32_t tile = tileRows(a.Dh, 32, 2080);
  if (tile == 0)
    error("attention: head size " + std::to_string(a.Dh) +
          " is too large for the Vulkan kernel");
  FwdPush push{};
  push.q = q;
  push.k = k;
  push.v = v;
  push.o = ctx.out[0]->address;
  push.lse = ctx.out.size() > 1 && ctx.out[1] ? ctx.out[1]->address : 0;
  push.T = u32(a.T);
  push.H = u32(a.H);
  push.Dh = u32(a.Dh);
  push.qStride = u32(qStride);
  push.kvStride = u32(kvStride);
  push.oStride = u32(a.D);
  push.S = u32(a.S);
  push.causal = a.causal ? 1 : 0;
  push.scale = a.scale;
  push.BR = std::min<uint32_t>(tile, u32(a.T)); // small T (decode): less idle
  push.BC = tile;
  ctx.rec.dispatch("attention_fwd", &push, sizeof push,
                   u32((a.T + push.BR - 1) / push.BR), u32(a.H), u32(a.B));
}

void recordAttention(KernelContext &ctx) {
  checkOperands(ctx);
  const DeviceTensor &q = *ctx.in[0];
  int64_t B = q.shape[0], T = q.shape[1];
  AttentionShape a = shapeOf(ctx.kernel, B, T, ctx.in[1]->shape[1], q.shape[2]);
  recordForward(ctx, a, q.address, ctx.in[1]->address, ctx.in[2]->address, a.D,
                a.D);
}

void recordAttentionQkv(KernelContext &ctx) {
  checkOperands(ctx);
  const DeviceTensor &qkv = *ctx.in[0];
  int64_t B = qkv.shape[0], T = qkv.shape[1], D = qkv.shape[2] / 3;
  AttentionShape a = shapeOf(ctx.kernel, B, T, T, D);
  recordForward(ctx, a, qkv.address, qkv.address + 4 * D, qkv.address + 8 * D,
                3 * D, 3 * D);
}

// --- backward ---------------------------------------------------------------

struct DotPush {
  uint64_t dout, o, dvec;
  uint32_t n, T, H, Dh, doStride, oStride;
};
static_assert(sizeof(DotPush) == 48, "matches attention_bwd_dot.comp");

struct BwdPush {
  uint64_t q, k, v, dout, lse, dvec, g0, g1;
  uint32_t T, S, H, Dh, qStride, kvStride, doStride, gStride, causal;
  float scale;
  uint32_t BR, BC;
};
static_assert(sizeof(BwdPush) == 112, "matches attention_bwd.glsl");

/// Gradients of q, k, v (addresses; 0 = not wanted) with rows `gStride`
/// apart.
void recordBackward(KernelContext &ctx, const AttentionShape &a, uint64_t dout,
                    uint64_t q, uint64_t k, uint64_t v, uint64_t o,
                    uint64_t lse, int64_t qkvStride, uint64_t dq, uint64_t dk,
                    uint64_t dv, int64_t gStride) {
  if (a.B * a.T == 0 || a.Dh == 0 || (!dq && !dk && !dv))
    return;
  uint32_t own = tileRows(a.Dh, 32, 2080), streamed = tileRows(a.Dh, 16, 1040);
  if (own == 0 || streamed == 0)
    error("attention_grad: head size " + std::to_string(a.Dh) +
          " is too large for the Vulkan kernel");
  const DeviceCaps &caps = ctx.rec.caps();
  int64_t rows = a.B * a.H * a.T;
  uint64_t dvec = ctx.rec.scratch(0, size_t(rows) * 4);
  DotPush dot{dout,     o,         dvec,     u32(rows), u32(a.T),
              u32(a.H), u32(a.Dh), u32(a.D), u32(a.D)};
  ctx.rec.dispatch("attention_bwd_dot", &dot, sizeof dot,
                   groupsFor(rows, 64, caps));

  BwdPush push{};
  push.q = q;
  push.k = k;
  push.v = v;
  push.dout = dout;
  push.lse = lse;
  push.dvec = dvec;
  push.T = u32(a.T);
  push.S = u32(a.S);
  push.H = u32(a.H);
  push.Dh = u32(a.Dh);
  push.qStride = u32(qkvStride);
  push.kvStride = u32(qkvStride);
  push.doStride = u32(a.D);
  push.gStride = u32(gStride);
  push.causal = a.causal ? 1 : 0;
  push.scale = a.scale;
  if (dq) {
    push.g0 = dq;
    push.g1 = 0;
    push.BR = own;
    push.BC = streamed;
    ctx.rec.dispatch("attention_bwd_dq", &push, sizeof push,
                     u32((a.T + own - 1) / own), u32(a.H), u32(a.B));
  }
  if (dk || dv) {
    push.g0 = dk;
    push.g1 = dv;
    push.BR = streamed;
    push.BC = own;
    ctx.rec.dispatch("attention_bwd_dkdv", &push, sizeof push,
                     u32((a.S + own - 1) / own), u32(a.H), u32(a.B));
  }
}

void recordAttentionGrad(KernelContext &ctx) {
  checkOperands(ctx);
  // do, q, k, v, o, lse -> dq, dk, dv
  const DeviceTensor &dout = *ctx.in[0], &k = *ctx.in[2];
  int64_t B = dout.shape[0], T = dout.shape[1], D = dout.shape[2];
  AttentionShape a = shapeOf(ctx.kernel, B, T, k.shape[1], D);
  recordBackward(ctx, a, dout.address, ctx.in[1]->address, k.address,
                 ctx.in[3]->address, ctx.in[4]->address, ctx.in[5]->address, D,
                 addressOf(ctx.out[0]), addressOf(ctx.out[1]),
                 addressOf(ctx.out.size() > 2 ? ctx.out[2] : nullptr), D);
}

void recordAttentionQkvGrad(KernelContext &ctx) {
  checkOperands(ctx);
  // do, qkv, o, lse -> dqkv
  const DeviceTensor &dout = *ctx.in[0], &qkv = *ctx.in[1];
  const DeviceTensor &dqkv = *ctx.out[0];
  int64_t B = dout.shape[0], T = dout.shape[1], D = dout.shape[2];
  AttentionShape a = shapeOf(ctx.kernel, B, T, T, D);
  recordBackward(ctx, a, dout.address, qkv.address, qkv.address + 4 * D,
                 qkv.address + 8 * D, ctx.in[2]->address, ctx.in[3]->address,
                 3 * D, dqkv.address, dqkv.address + 4 * D,
                 dqkv.address + 8 * D, 3 * D);
}

// --- paged ------------------------------------------------------------------

struct PagedPush {
  uint64_t q, k, v, o, table, start, part;
  uint32_t T, H, Dh, qStride, kvStride, oStride, BS, NB, N;
  float scale;
  uint32_t BR, BC, nsplit, chunk;
};
static_assert(sizeof(PagedPush) == 112, "matches attention_fwd.glsl (PAGED)");

struct CombinePush {
  uint64_t part, o;
  uint32_t n, T, H, Dh, nsplit, oStride;
};
static_assert(sizeof(CombinePush) == 40, "matches paged_attention_combine");

/// Keys per split of the split-K decode path: 8 key tiles.
constexpr int64_t kSplitTiles = 8;

void recordPagedAttention(KernelContext &ctx) {
  checkOperands(ctx);
  // q, k_cache, v_cache, block_table, start -> o
  const DeviceTensor &q = *ctx.in[0], &kc = *ctx.in[1], &vc = *ctx.in[2];
  const DeviceTensor &table = *ctx.in[3], &start = *ctx.in[4];
  int64_t N = kc.shape[0], BS = kc.shape[1], D = kc.shape[2];
  int64_t B = q.shape[0], T = q.shape[1], NB = table.shape[1];
  AttentionShape a = shapeOf(ctx.kernel, B, T, T, D);
  if (table.host && start.host)
    checkPagedPositions(static_cast<const int32_t *>(table.host),
                        static_cast<const int32_t *>(start.host), B, T, NB, BS,
                        N);
  if (B * T == 0 || a.Dh == 0 || N * BS == 0)
    return;
  uint32_t tile = tileRows(a.Dh, 32, 2080);
  if (tile == 0)
    error("paged_attention: head size " + std::to_string(a.Dh) +
          " is too large for the Vulkan kernel");
  PagedPush push{};
  push.q = q.address;
  push.k = kc.address;
  push.v = vc.address;
  push.o = ctx.out[0]->address;
  push.table = table.address;
  push.start = start.address;
  push.T = u32(T);
  push.H = u32(a.H);
  push.Dh = u32(a.Dh);
  push.qStride = push.kvStride = push.oStride = u32(D);
  push.BS = u32(BS);
  push.NB = u32(NB);
  push.N = u32(N);
  push.scale = a.scale;
  push.BR = std::min<uint32_t>(tile, u32(T));
  push.BC = tile;
  // Decode (one query tile): one workgroup per (sequence, head) would walk
  // the whole context alone, so split the keys over workgroups and merge.
  // The split depends on shapes only (NB * BS bounds every context), not on
  // start, so a replayed command buffer stays valid.
  int64_t chunk = kSplitTiles * tile;
  int64_t nsplit = (NB * BS + chunk - 1) / chunk;
  if (T <= int64_t(tile) && nsplit > 1) {
    push.nsplit = u32(nsplit);
    u32(B * a.H * nsplit * T * (a.Dh + 2)); // the partials are indexable
    push.chunk = u32(chunk);
    push.part = ctx.rec.scratch(0, size_t(B * a.H * nsplit * T * (a.Dh + 2)) *
                                       sizeof(float));
    ctx.rec.dispatch("paged_attention", &push, sizeof push, u32(nsplit),
                     u32(a.H), u32(B));
    CombinePush combine{push.part, push.o,    u32(B * T * D), u32(T),
                        u32(a.H),  u32(a.Dh), u32(nsplit),    u32(D)};
    ctx.rec.dispatch("paged_attention_combine", &combine, sizeof combine,
                     groupsFor(B * T * D, 64, ctx.rec.caps()));
    return;
  }
  push.nsplit = 1;
  ctx.rec.dispatch("paged_attention", &push, sizeof push,
                   u32((T + push.BR - 1) / push.BR), u32(a.H), u32(B));
}

} // namespace

void registerAttentionKernels(KernelTable &table) {
  table[KernelId::Attention] = recordAttention;
  table[KernelId::AttentionQkv] = recordAttentionQkv;
  table[KernelId::AttentionGrad] = recordAttentionGrad;
  table[KernelId::AttentionQkvGrad] = recordAttentionQkvGrad;
  table[KernelId::PagedAttention] = recordPagedAttention;
}

} // namespace gpt::vk
