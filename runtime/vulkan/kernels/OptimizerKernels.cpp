//===- OptimizerKernels.cpp - global_norm, lr_schedule, adamw -------------===//
//
// global_norm is a deterministic two-level reduction: every tensor is cut
// into fixed chunks whose sums of squares go to scratch, then one workgroup
// adds them in order (fp32 throughout, where the CPU uses double lanes).
// lr_schedule and adamw read their scalars (step, lr, norm, hparams) on the
// device, since they are usually results of earlier kernels.
//
//===----------------------------------------------------------------------===//
#include "runtime/executor/Executor.h"
#include "runtime/vulkan/KernelContext.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace gpt::vk {
namespace {

constexpr uint32_t kLocal = 128;
constexpr int64_t kChunk = 8192; // CHUNK in global_norm.comp

void recordGlobalNorm(KernelContext &ctx) {
  // (address lo, address hi, numel, first chunk) per non-empty tensor.
  std::vector<uint32_t> table;
  int64_t chunks = 0;
  for (const DeviceTensor *t : ctx.in) {
    if (t->numel == 0)
      continue;
    if (t->numel > int64_t(INT32_MAX))
      throw std::runtime_error("global_norm: a tensor of " +
                               std::to_string(t->numel) +
                               " elements exceeds the shader's 32-bit index "
                               "(at most 2^31 - 1)");
    table.push_back(static_cast<uint32_t>(t->address));
    table.push_back(static_cast<uint32_t>(t->address >> 32));
    table.push_back(static_cast<uint32_t>(t->numel));
    table.push_back(static_cast<uint32_t>(chunks));
    chunks += (t->numel + kChunk - 1) / kChunk;
  }
  const DeviceCaps &caps = ctx.rec.caps();
  uint64_t norm = ctx.out[0]->address;
  if (chunks == 0) {
    struct {
      uint64_t y;
      uint32_t n;
      int32_t bits;
    } fill{norm, 1, 0};
    ctx.rec.dispatch("fill", &fill, sizeof fill, 1);
    return;
  }
  uint64_t partial = ctx.rec.scratch(0, size_t(chunks) * sizeof(float));
  struct Push {
    uint64_t table, partial;
    uint32_t tensors, chunks;
  } push{ctx.rec.constants(table.data(), table.size() * sizeof(uint32_t)),
         partial, static_cast<uint32_t>(table.size() / 4),
         static_cast<uint32_t>(chunks)};
  static_assert(sizeof(Push) == 24);
  ctx.rec.dispatch("global_norm", &push, sizeof push,
                   groupsFor(chunks, 1, caps));
  struct ReducePush {
    uint64_t partial, norm;
    uint32_t chunks, pad;
  } reduce{partial, norm, static_cast<uint32_t>(chunks), 0};
  static_assert(sizeof(ReducePush) == 24);
  ctx.rec.dispatch("global_norm_reduce", &reduce, sizeof reduce, 1);
}

void recordLrSchedule(KernelContext &ctx) {
  struct Push {
    uint64_t step, hp, lr;
  } push{ctx.in[0]->address, ctx.in[1]->address, ctx.out[0]->address};
  static_assert(sizeof(Push) == 24);
  ctx.rec.dispatch("lr_schedule", &push, sizeof push, 1);
}

void recordAdamW(KernelContext &ctx) {
  const DeviceTensor &step = *ctx.in[6];
  // The CPU kernel rejects a bad step at run time; the shader cannot throw,
  // so check it here when the host has it (else the shader clamps at 0).
  if (step.host) {
    int32_t s;
    std::memcpy(&s, step.host, sizeof s);
    if (s < 0)
      throw ExecutorError("adamw: step " + std::to_string(s) + " is negative");
  }
  int64_t n = ctx.in[0]->numel;
  // Below 2^31 so that no grid-stride index wraps (AdamW is in place: an
  // element visited twice would be updated twice).
  if (n > int64_t(INT32_MAX))
    throw std::runtime_error("adamw: " + std::to_string(n) +
                             " elements exceed the shader's 32-bit index "
                             "(at most 2^31 - 1)");
  if (n == 0)
    return;
  const DeviceTensor *norm = ctx.in[5];
  struct Push {
    uint64_t p, g, m, v, lr, norm, step, hp, po, mo, vo;
    uint32_t n, flags;
  } push{ctx.in[0]->address,
         ctx.in[1]->address,
         ctx.in[2]->address,
         ctx.in[3]->address,
         ctx.in[4]->address,
         norm ? norm->address : 0,
         step.address,
         ctx.in[7]->address,
         ctx.out[0]->address,
         ctx.out[1]->address,
         ctx.out[2]->address,
         static_cast<uint32_t>(n),
         (norm ? 1u : 0u) | (attrBool(ctx.kernel, "decay") ? 2u : 0u)};
  static_assert(sizeof(Push) == 96);
  ctx.rec.dispatch("adamw", &push, sizeof push,
                   groupsFor(n, kLocal, ctx.rec.caps()));
}

} // namespace

void registerOptimizerKernels(KernelTable &table) {
  // all_reduce records nothing: with one rank it is the identity; over
  // several the executor reduces through the host after the commands ran
  // (VulkanExecutor.cpp, reduceOnHost).
  table[KernelId::AllReduce] = [](KernelContext &) {};
  table[KernelId::GlobalNorm] = recordGlobalNorm;
  table[KernelId::LrSchedule] = recordLrSchedule;
  table[KernelId::Adamw] = recordAdamW;
}

} // namespace gpt::vk
