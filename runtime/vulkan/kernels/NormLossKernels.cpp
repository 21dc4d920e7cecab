//===- NormLossKernels.cpp - layernorm, softmax and cross-entropy ---------===//
//
// Row kernels run one 128-thread workgroup per row (128 is the smallest
// maxComputeWorkGroupInvocations Vulkan guarantees) and reduce in shared
// memory in a fixed order, so every result is the same from run to run.
// Column sums (dgamma, dbeta) and the cross-entropy mean are two-level: fixed
// blocks write partials to scratch, a second dispatch adds them in order.
// layernorm, softmax (contiguous rows) and cross_entropy's row pass have
// subgroup-arithmetic twins (*_sg: subgroupAdd/subgroupMax within each
// subgroup, then the per-subgroup partials added in subgroup order), used
// when the device has subgroup arithmetic with a power-of-two subgroup size
// of 4..128, unless GPT_VK_SUBGROUPS=0.
//
//===----------------------------------------------------------------------===//
#include "runtime/executor/Executor.h"
#include "runtime/vulkan/KernelContext.h"

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace gpt::vk {
namespace {

constexpr uint32_t kLocal = 128;

/// One workgroup per row; the shaders loop when the grid is capped.
uint32_t rowGroups(int64_t rows, const DeviceCaps &caps) {
  return groupsFor(rows, 1, caps);
}

/// `shader` or its subgroup twin `shader`_sg: subgroup arithmetic, a
/// power-of-two subgroup size >= 4 that divides the kLocal threads (every
/// subgroup full, at most 32 of them), and GPT_VK_SUBGROUPS is not 0 (a
/// replayed command buffer keeps the shader it was recorded with).
std::string rowShader(const char *shader, const DeviceCaps &caps) {
  return useSubgroups(caps, kLocal) ? std::string(shader) + "_sg"
                                    : std::string(shader);
}

void recordLayernorm(KernelContext &ctx) {
  const DeviceTensor &x = *ctx.in[0], &y = *ctx.out[0];
  struct Push {
    uint64_t x, gamma, beta, y;
    uint32_t rows, D;
    float eps;
    uint32_t hasBeta;
  } push{x.address,
         ctx.in[1]->address,
         addressOf(ctx.in[2]),
         y.address,
         u32(x.rows(), "rows"),
         u32(x.last(), "row length"),
         attrFloat(ctx.kernel, "epsilon"),
         ctx.in[2] ? 1u : 0u};
  static_assert(sizeof(Push) == 48);
  u32(x.numel, "element count");
  if (x.numel > 0)
    ctx.rec.dispatch(rowShader("layernorm", ctx.rec.caps()).c_str(), &push,
                     sizeof push, rowGroups(x.rows(), ctx.rec.caps()));
}

void recordLayernormGrad(KernelContext &ctx) {
  const DeviceTensor &dy = *ctx.in[0], &x = *ctx.in[1], &gamma = *ctx.in[2];
  const DeviceTensor *dgamma = ctx.out[1], *dbeta = ctx.out[2];
  int64_t rows = x.rows(), D = x.last();
  u32(x.numel, "element count");
  const DeviceCaps &caps = ctx.rec.caps();
  if (D == 0)
    return;
  if (rows == 0) {
    // No rows: the column sums are zero.
    for (const DeviceTensor *t : {dgamma, dbeta})
      if (t) {
        struct {
          uint64_t y;
          uint32_t n;
          int32_t bits;
        } fill{t->address, static_cast<uint32_t>(D), 0};
        ctx.rec.dispatch("fill", &fill, sizeof fill, groupsFor(D, 256, caps));
      }
    return;
  }
  uint64_t stats = ctx.rec.scratch(0, size_t(rows) * 2 * sizeof(float));
  struct RowPush {
    uint64_t dy, x, gamma, dx, stats;
    uint32_t rows, D;
    float eps;
    uint32_t pad;
  } rp{dy.address,
       x.address,
       gamma.address,
       ctx.out[0]->address,
       stats,
       static_cast<uint32_t>(rows),
       static_cast<uint32_t>(D),
       attrFloat(ctx.kernel, "epsilon"),
       0};
  static_assert(sizeof(RowPush) == 56);
  ctx.rec.dispatch("layernorm_grad", &rp, sizeof rp, rowGroups(rows, caps));
  if (!dgamma && !dbeta)
    return;

  // Blocks of at least 32 rows, at most 65535 of them (the y grid limit
  // every device offers); the block size depends only on the shape.
  int64_t rowsPerBlock = std::max<int64_t>(32, (rows + 65534) / 65535);
  int64_t blocks = (rows + rowsPerBlock - 1) / rowsPerBlock;
  uint64_t partial =
      ctx.rec.scratch(1, size_t(blocks) * 2 * size_t(D) * sizeof(float));
  struct PartialPush {
    uint64_t dy, x, stats, partial;
    uint32_t rows, D, rowsPerBlock, pad;
  } pp{dy.address,
       x.address,
       stats,
       partial,
       static_cast<uint32_t>(rows),
       static_cast<uint32_t>(D),
       static_cast<uint32_t>(rowsPerBlock),
       0};
  static_assert(sizeof(PartialPush) == 48);
  ctx.rec.dispatch("layernorm_grad_partial", &pp, sizeof pp,
                   groupsFor(D, kLocal, caps), static_cast<uint32_t>(blocks));
  struct ReducePush {
    uint64_t partial, dgamma, dbeta;
    uint32_t D, blocks, hasDgamma, hasDbeta;
  } reduce{partial,
           addressOf(dgamma),
           addressOf(dbeta),
           static_cast<uint32_t>(D),
           static_cast<uint32_t>(blocks),
           dgamma ? 1u : 0u,
           dbeta ? 1u : 0u};
  static_assert(sizeof(ReducePush) == 40);
  ctx.rec.dispatch("layernorm_grad_reduce", &reduce, sizeof reduce,
                   groupsFor(D, kLocal, caps));
}

int64_t normAxis(int64_t axis, size_t rank) {
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}

/// softmax (grad = false: inputs x) and softmax_grad (inputs dy, y).
void recordSoftmax(KernelContext &ctx, bool grad) {
  const DeviceTensor &a = *ctx.in[0], &o = *ctx.out[0];
  u32(a.numel, "element count");
  if (a.numel == 0)
    return;
  int64_t axis = normAxis(attrInt(ctx.kernel, "axis"), a.shape.size());
  int64_t outer = 1, len = a.shape[axis], inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= a.shape[d];
  for (size_t d = axis + 1; d < a.shape.size(); ++d)
    inner *= a.shape[d];
  const DeviceCaps &caps = ctx.rec.caps();
  uint64_t b = grad ? ctx.in[1]->address : 0;
  if (inner == 1 && !grad) {
    struct Push {
      uint64_t x, y;
      uint32_t rows, len;
    } push{a.address, o.address, static_cast<uint32_t>(outer),
           static_cast<uint32_t>(len)};
    static_assert(sizeof(Push) == 24);
    ctx.rec.dispatch(rowShader("softmax", caps).c_str(), &push, sizeof push,
                     rowGroups(outer, caps));
  } else if (inner == 1) {
    struct Push {
      uint64_t dy, y, dx;
      uint32_t rows, len;
    } push{a.address, b, o.address, static_cast<uint32_t>(outer),
           static_cast<uint32_t>(len)};
    static_assert(sizeof(Push) == 32);
    ctx.rec.dispatch("softmax_grad", &push, sizeof push,
                     rowGroups(outer, caps));
  } else {
    struct Push {
      uint64_t a, b, o;
      uint32_t outer, len, inner, grad;
    } push{a.address,
           b,
           o.address,
           static_cast<uint32_t>(outer),
           static_cast<uint32_t>(len),
           static_cast<uint32_t>(inner),
           grad ? 1u : 0u};
    static_assert(sizeof(Push) == 40);
    ctx.rec.dispatch("softmax_strided", &push, sizeof push,
                     groupsFor(outer * inner, kLocal, caps));
  }
}

void recordSoftmaxFwd(KernelContext &ctx) { recordSoftmax(ctx, false); }
void recordSoftmaxGrad(KernelContext &ctx) { recordSoftmax(ctx, true); }

void recordScaledMaskedSoftmax(KernelContext &ctx) {
  const DeviceTensor &x = *ctx.in[0];
  u32(x.numel, "element count");
  size_t rank = x.shape.size();
  int64_t T = x.shape[rank - 2], S = x.shape[rank - 1];
  if (x.numel == 0)
    return;
  struct Push {
    uint64_t x, y;
    uint32_t rows, T, S;
    float scale;
    uint32_t causal, pad;
  } push{x.address,
         ctx.out[0]->address,
         static_cast<uint32_t>(x.numel / S),
         static_cast<uint32_t>(T),
         static_cast<uint32_t>(S),
         attrFloat(ctx.kernel, "scale"),
         attrBool(ctx.kernel, "causal") ? 1u : 0u,
         0};
  static_assert(sizeof(Push) == 40);
  ctx.rec.dispatch("scaled_masked_softmax", &push, sizeof push,
                   rowGroups(x.numel / S, ctx.rec.caps()));
}

void recordCausalMask(KernelContext &ctx) {
  const DeviceTensor &x = *ctx.in[0];
  u32(x.numel, "element count");
  size_t rank = x.shape.size();
  if (x.numel == 0)
    return;
  struct Push {
    uint64_t x, y;
    uint32_t n, T, S;
    float fill;
  } push{x.address,
         ctx.out[0]->address,
         static_cast<uint32_t>(x.numel),
         static_cast<uint32_t>(x.shape[rank - 2]),
         static_cast<uint32_t>(x.shape[rank - 1]),
         attrFloat(ctx.kernel, "fill")};
  static_assert(sizeof(Push) == 32);
  ctx.rec.dispatch("causal_mask", &push, sizeof push,
                   groupsFor(x.numel, kLocal, ctx.rec.caps()));
}

/// cross_entropy (grad = false: logits, targets, weights) and
/// cross_entropy_grad (dloss, logits, targets, weights).
void recordCrossEntropy(KernelContext &ctx, bool grad) {
  size_t base = grad ? 1 : 0;
  const DeviceTensor &logits = *ctx.in[base], &targets = *ctx.in[base + 1];
  const DeviceTensor *weights = ctx.in[base + 2];
  int64_t V = logits.last(), N = logits.rows();
  u32(logits.numel, "element count");
  // The GPU cannot throw: check targets here when the host has them, with
  // the CPU kernel's wording (its executor adds the location).
  if (targets.host) {
    const int32_t *t = static_cast<const int32_t *>(targets.host);
    for (int64_t i = 0; i < N; ++i)
      if (t[i] >= V)
        throw ExecutorError("cross-entropy: target " + std::to_string(t[i]) +
                            " at position " + std::to_string(i) +
                            " is outside the vocabulary of size " +
                            std::to_string(V));
  }
  const DeviceCaps &caps = ctx.rec.caps();
  const DeviceTensor &out = *ctx.out[0];
  if (N == 0 || V == 0) {
    // Loss 0 (no weight), or an empty gradient.
    if (out.numel > 0) {
      struct {
        uint64_t y;
        uint32_t n;
        int32_t bits;
      } fill{out.address, static_cast<uint32_t>(out.numel), 0};
      ctx.rec.dispatch("fill", &fill, sizeof fill,
                       groupsFor(out.numel, 256, caps));
    }
    return;
  }
  uint64_t stats = ctx.rec.scratch(0, size_t(N) * 4 * sizeof(float));
  struct RowPush {
    uint64_t logits, targets, weights, stats;
    uint32_t rows, V, hasWeights, pad;
  } rp{logits.address,           targets.address,
       addressOf(weights),       stats,
       static_cast<uint32_t>(N), static_cast<uint32_t>(V),
       weights ? 1u : 0u,        0};
  static_assert(sizeof(RowPush) == 48);
  ctx.rec.dispatch(rowShader("cross_entropy", caps).c_str(), &rp, sizeof rp,
                   rowGroups(N, caps));

  uint64_t factor = grad ? ctx.rec.scratch(1, 16) : 0;
  struct ReducePush {
    uint64_t stats, dloss, out;
    uint32_t rows, grad;
  } reduce{stats, grad ? ctx.in[0]->address : 0, grad ? factor : out.address,
           static_cast<uint32_t>(N), grad ? 1u : 0u};
  static_assert(sizeof(ReducePush) == 32);
  ctx.rec.dispatch("cross_entropy_reduce", &reduce, sizeof reduce, 1);
  if (!grad)
    return;
  struct GradPush {
    uint64_t logits, targets, weights, stats, factor, dlogits;
    uint32_t rows, V, hasWeights, pad;
  } gp{logits.address,
       targets.address,
       addressOf(weights),
       stats,
       factor,
       out.address,
       static_cast<uint32_t>(N),
       static_cast<uint32_t>(V),
       weights ? 1u : 0u,
       0};
  static_assert(sizeof(GradPush) == 64);
  ctx.rec.dispatch("cross_entropy_grad", &gp, sizeof gp, rowGroups(N, caps));
}

void recordCrossEntropyFwd(KernelContext &ctx) {
  recordCrossEntropy(ctx, false);
}
void recordCrossEntropyGrad(KernelContext &ctx) {
  recordCrossEntropy(ctx, true);
}

} // namespace

void registerNormLossKernels(KernelTable &table) {
  table[KernelId::Layernorm] = recordLayernorm;
  table[KernelId::LayernormGrad] = recordLayernormGrad;
  table[KernelId::Softmax] = recordSoftmaxFwd;
  table[KernelId::SoftmaxGrad] = recordSoftmaxGrad;
  table[KernelId::ScaledMaskedSoftmax] = recordScaledMaskedSoftmax;
  table[KernelId::CausalMask] = recordCausalMask;
  table[KernelId::CrossEntropy] = recordCrossEntropyFwd;
  table[KernelId::CrossEntropyGrad] = recordCrossEntropyGrad;
}

} // namespace gpt::vk
