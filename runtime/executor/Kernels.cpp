//===- Kernels.cpp - The CPU executor's kernel table ----------------------===//
//
// One function per kernel of the table in docs/artifact.md, in families
// under runtime/executor/kernels/ (the same families as the Vulkan
// executor's runtime/vulkan/kernels/). Heavy lifting is done by the CPU
// kernel library (runtime/cpu: gemm, flash attention, layernorm, softmax,
// cross-entropy, AdamW, grad norm); data movement and the few kernels the
// library lacks are written in the family files. The table is built once
// and looked up when an artifact is loaded, never per call.
//
//===----------------------------------------------------------------------===//
#include "runtime/executor/KernelsInternal.h"

namespace gpt::exec {

const CpuKernelTable &cpuKernelTable() {
  static const CpuKernelTable table = [] {
    CpuKernelTable t{};
    registerDataKernels(t);
    registerMatmulKernels(t);
    registerAttentionKernels(t);
    registerNormLossKernels(t);
    registerOptimizerKernels(t);
    registerCollectiveKernels(t);
    registerElementwiseKernel(t);
    return t;
  }();
  return table;
}

KernelFn resolveKernel(const std::string &name) {
  std::optional<KernelId> id = kernelByName(name);
  KernelFn fn = id ? cpuKernelTable()[static_cast<size_t>(*id)] : nullptr;
  if (!fn)
    error("no CPU kernel '" + name + "'");
  return fn;
}

} // namespace gpt::exec
