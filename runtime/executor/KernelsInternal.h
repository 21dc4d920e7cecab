//===- KernelsInternal.h - Kernel implementations of the CPU executor -----===//
//
// Internal to gpt_executor. Each artifact kernel is one function over
// resolved operands (pointers and concrete shapes); the shapes have already
// been checked against the kernel's contract (checkKernelShapes).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/artifact/Artifact.h"
#include "runtime/cpu/ThreadPool.h"
#include "runtime/executor/Executor.h"
#include "schema/KernelRegistry.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace gpt::exec {

using cpu::ThreadPool;

[[noreturn]] inline void error(const std::string &what) {
  throw ExecutorError(what);
}

/// Rows per parallel chunk so that a chunk touches about `work` elements.
inline int64_t grainFor(int64_t rowLength, int64_t work = 16384) {
  return std::max<int64_t>(1, work / std::max<int64_t>(1, rowLength));
}

inline int64_t normAxis(int64_t axis, size_t rank) {
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}

/// outer x len x inner decomposition around an axis.
inline void aroundAxis(const std::vector<int64_t> &shape, int64_t axis,
                       int64_t &outer, int64_t &len, int64_t &inner) {
  outer = 1;
  inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  len = shape[axis];
  for (size_t d = axis + 1; d < shape.size(); ++d)
    inner *= shape[d];
}

/// A resolved operand.
struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  void *data = nullptr;
  int64_t numel = 0;

  float *f() const { return static_cast<float *>(data); }
  int32_t *i() const { return static_cast<int32_t *>(data); }
  int64_t last() const { return shape.empty() ? 1 : shape.back(); }
  /// Product of all dims but the last.
  int64_t rows() const {
    int64_t r = 1;
    for (size_t d = 0; d + 1 < shape.size(); ++d)
      r *= shape[d];
    return r;
  }
};

/// Kernel scratch (per executor): the few per-row statistics a kernel needs
/// but the artifact does not plan (layernorm's mean and rstd, the
/// cross-entropy lse, the repack buffers of unpacked attention). A slot
/// grows to the largest request and is kept, like the token arena: its size
/// is bounded by the largest binding run so far, never by the number of
/// calls, and bytes() reports it (CpuExecutor::arenaInfo, gpt bench).
class Scratch {
public:
  float *get(size_t slot, size_t n) {
    if (slots_.size() <= slot)
      slots_.resize(slot + 1);
    if (slots_[slot].size() < n) {
      bytes_ += (n - slots_[slot].size()) * sizeof(float);
      slots_[slot].resize(n);
    }
    return slots_[slot].data();
  }
  size_t bytes() const { return bytes_; }

private:
  std::vector<std::vector<float>> slots_;
  size_t bytes_ = 0;
};

struct KernelContext {
  const Kernel &kernel;
  std::vector<const Tensor *> in;  ///< nullptr for an absent operand
  std::vector<const Tensor *> out; ///< nullptr for an absent result
  cpu::ThreadPool &pool;
  Scratch &scratch;
  /// The ranks all_reduce reduces over; nullptr: single process, or a
  /// micro-batch that defers its reduction (Executor::setCollectivesEnabled).
  collective::Collective *collective = nullptr;
};

/// One kernel's CPU function. Throws std::exception (ExecutorError for bad
/// data such as an out-of-range token id); the caller adds the kernel's
/// location.
using KernelFn = void (*)(KernelContext &ctx);
/// The CPU function of the registry kernel `name` (schema/Kernels.def),
/// looked up once when an artifact is loaded; throws for a name without one.
KernelFn resolveKernel(const std::string &name);

/// Each registry kernel's CPU function, indexed by KernelId (nullptr: none).
using CpuKernelTable =
    std::array<KernelFn, static_cast<size_t>(KernelId::Count)>;
/// The table, built once: every kernel but `alias` has a function.
const CpuKernelTable &cpuKernelTable();

// Each family fills its entries (runtime/executor/kernels/, mirroring
// runtime/vulkan/kernels/).
void registerDataKernels(CpuKernelTable &table);   ///< layout, embeddings
void registerMatmulKernels(CpuKernelTable &table); ///< linear, matmul
void registerAttentionKernels(CpuKernelTable &table);
void registerNormLossKernels(CpuKernelTable &table); ///< layernorm, CE
void registerOptimizerKernels(CpuKernelTable &table);
void registerCollectiveKernels(CpuKernelTable &table); ///< all_reduce
void registerElementwiseKernel(CpuKernelTable &table); ///< Elementwise.cpp

} // namespace gpt::exec
