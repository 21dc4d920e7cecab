//===- OptimizerKernels.cpp - CPU kernels: norm, lr, AdamW ----------------===//
//
// Part of the CPU executor's kernel table (KernelsInternal.h); the Vulkan
// executor's runtime/vulkan/kernels/OptimizerKernels.cpp records the same
// kernels.
//
//===----------------------------------------------------------------------===//
#include "runtime/executor/KernelsInternal.h"

#include "runtime/cpu/Optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace gpt::exec {
namespace {

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
  c.out[0]->f()[0] =
      lrAt(stepOf(*c.in[0], kernelName(KernelId::LrSchedule)), c.in[1]->f());
}

void adamw(KernelContext &c) {
  const float *hp = c.in[7]->f();
  int64_t step = stepOf(*c.in[6], kernelName(KernelId::Adamw));
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

void registerOptimizerKernels(CpuKernelTable &table) {
  table[static_cast<size_t>(KernelId::GlobalNorm)] = [](KernelContext &c) {
    globalNorm(c);
  };
  table[static_cast<size_t>(KernelId::LrSchedule)] = [](KernelContext &c) {
    lrSchedule(c);
  };
  table[static_cast<size_t>(KernelId::Adamw)] = [](KernelContext &c) {
    adamw(c);
  };
}

} // namespace gpt::exec
