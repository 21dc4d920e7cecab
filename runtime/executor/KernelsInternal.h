//===- KernelsInternal.h - Kernel implementations of the CPU executor -----===//
//
// Internal to gpt_executor. Each artifact kernel is one function over
// resolved operands (pointers and concrete shapes); the shapes have already
// been checked against the kernel's contract (checkKernelShapes).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "artifact/Artifact.h"
#include "cpu/thread_pool.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gpt::exec {

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

/// Growable scratch buffers kept between calls (per executor).
class Scratch {
public:
  float *get(size_t slot, size_t n) {
    if (slots_.size() <= slot)
      slots_.resize(slot + 1);
    if (slots_[slot].size() < n)
      slots_[slot].resize(n);
    return slots_[slot].data();
  }

private:
  std::vector<std::vector<float>> slots_;
};

struct KernelContext {
  const Kernel &kernel;
  std::vector<const Tensor *> in;  ///< nullptr for an absent operand
  std::vector<const Tensor *> out; ///< nullptr for an absent result
  cpu::ThreadPool &pool;
  Scratch &scratch;
};

/// One kernel's CPU function. Throws std::exception (ExecutorError for bad
/// data such as an out-of-range token id); the caller adds the kernel's
/// location.
using KernelFn = void (*)(KernelContext &ctx);
/// The CPU function of the registry kernel `name` (runtime/model/Kernels.def),
/// looked up once when an artifact is loaded; throws for a name without one.
KernelFn resolveKernel(const std::string &name);
/// The `elementwise` row-program interpreter.
void runElementwise(KernelContext &ctx);

} // namespace gpt::exec
