//===- ElementwiseKernels.cpp - generated `elementwise` shaders -----------===//
//
// The compiler generated and compiled each program's shader
// (vulkan/ElementwiseAbi.h has the ABI); here we only fill its argument
// block and dispatch the artifact's SPIR-V.
//
//===----------------------------------------------------------------------===//
#include "runtime/executor/Executor.h"
#include "runtime/vulkan/ElementwiseAbi.h"
#include "runtime/vulkan/KernelContext.h"

#include <cstdio>

namespace gpt::vk {
namespace {

void recordElementwise(KernelContext &ctx) {
  const Kernel &k = ctx.kernel;
  if (k.spirv.empty())
    throw ExecutorError("elementwise kernel has no generated SPIR-V (the "
                        "artifact was not compiled for target 'vulkan')");
  const DeviceTensor &first = *ctx.out[0];
  const int64_t cols = first.last();
  if (cols <= 0 || first.numel == 0)
    return;
  // The shader indexes with 32-bit element numbers, kept below 2^31 so that
  // no grid-stride index wraps.
  if (first.numel > int64_t(INT32_MAX))
    throw ExecutorError("elementwise output of " + std::to_string(first.numel) +
                        " elements is too large (at most 2^31 - 1)");
  const int64_t rows = first.numel / cols;
  const size_t n = ctx.in.size(), m = ctx.out.size();
  std::vector<uint32_t> words(ewArgsWords(n, m));
  auto putAddress = [&](size_t slot, uint64_t a) {
    words[2 * slot] = static_cast<uint32_t>(a);
    words[2 * slot + 1] = static_cast<uint32_t>(a >> 32);
  };
  for (size_t i = 0; i < n; ++i)
    putAddress(i, ctx.in[i]->address);
  for (size_t o = 0; o < m; ++o)
    putAddress(n + o, ctx.out[o]->address);
  size_t h = 2 * (n + m);
  words[h] = static_cast<uint32_t>(first.numel);
  words[h + 1] = static_cast<uint32_t>(cols);
  words[h + 2] = static_cast<uint32_t>(rows);
  for (size_t i = 0; i < n; ++i) {
    // Inputs are suffixes of the output shape (checked by the reader and
    // the executor): element e reads e mod numel; a 0-d input numel 1.
    int64_t numel = ctx.in[i]->numel;
    words[h + 3 + i] = static_cast<uint32_t>(
        numel < 1 ? 1 : std::min<int64_t>(numel, first.numel));
  }
  uint64_t args = ctx.rec.constants(words.data(), words.size() * 4);
  uint32_t groups =
      ewRowMode(k.program)
          ? static_cast<uint32_t>(std::min<int64_t>(
                rows, static_cast<int64_t>(ctx.rec.caps().maxGroupCountX)))
          : groupsFor(first.numel, kEwLocalSize, ctx.rec.caps());
  ctx.rec.dispatchSpirv(k.spirv, &args, sizeof args, groups);
}

} // namespace

void registerElementwiseKernel(KernelTable &table) {
  table[KernelId::Elementwise] = recordElementwise;
}

} // namespace gpt::vk
