//===- CollectiveKernels.cpp - all_reduce on the CPU ----------------------===//
//
// all_reduce starts the bucket's reduction and returns: the executor lets it
// advance between the next kernels and waits for it before the first kernel
// that touches those bytes, or at the end of the function.
//
//===----------------------------------------------------------------------===//
#include "runtime/collective/Collective.h"
#include "runtime/executor/KernelsInternal.h"

namespace gpt::exec {
namespace {

void allReduce(KernelContext &c) {
  const std::string group = c.kernel.attrs.value("group", "");
  if (group != kDataParallelGroup)
    error("all_reduce over unknown process group '" + group +
          "' (this runtime knows '" + kDataParallelGroup + "')");
  if (!c.collective)
    return; // one process, or a micro-batch that defers its reduction
  std::vector<collective::Span> spans;
  for (const Tensor *t : c.out)
    spans.push_back({t->f(), static_cast<std::size_t>(t->numel)});
  c.collective->startAllReduce(
      spans, collective::reductionByName(
                 c.kernel.attrs.value("reduction", std::string())));
}

} // namespace

void registerCollectiveKernels(CpuKernelTable &table) {
  table[static_cast<size_t>(KernelId::AllReduce)] = [](KernelContext &c) {
    allReduce(c);
  };
}

} // namespace gpt::exec
