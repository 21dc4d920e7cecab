//===- CpuExecutor.h - Runs the functions of an artifact on the CPU -------===//
//
// The executor binds the caller's tensors to a function's inputs, derives B
// and T from their shapes, lays the function's values out in its two arenas
// (kept between calls, grown when B*T grows) and runs the kernels in order
// with the gpt_cpu_kernels library. See docs/artifact.md for the contract.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/artifact/Artifact.h"
#include "runtime/executor/Executor.h"

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace gpt {
namespace cpu {
class ThreadPool;
}

/// Arena sizes of one function, for tests and diagnostics.
struct ArenaInfo {
  size_t staticBytes = 0;   ///< allocated static arena
  size_t tokenCapacity = 0; ///< allocated token arena, bytes
  int tokenAllocations = 0; ///< how often the token arena was (re)allocated
  int64_t B = 0, T = 0;     ///< the binding of the last call
  /// Kernel scratch of the executor (shared by its functions; see
  /// exec::Scratch): grows to the largest binding, never with call count.
  size_t scratchBytes = 0;
};

class CpuExecutor : public Executor {
public:
  /// Validates the artifact (again) and keeps a copy. threads: 0 = the
  /// global kernel pool (GPT_THREADS or the hardware's thread count), else
  /// a pool of its own with that many threads. Throws ArtifactError or
  /// ExecutorError (target is not "cpu").
  explicit CpuExecutor(const Artifact &artifact, int threads = 0);
  ~CpuExecutor();
  CpuExecutor(const CpuExecutor &) = delete;
  CpuExecutor &operator=(const CpuExecutor &) = delete;

  /// Binds every input of `function` by name (missing, extra, wrong dtype or
  /// shape → ExecutorError naming it); B and T come from the "tokens" input's
  /// shape [B, T] (else from the first input with -1/-2 dims). Runs the
  /// kernels in order and returns the outputs that do not alias an input, by
  /// name. Aliased outputs are written in place into the caller's buffers.
  std::map<std::string, HostTensor>
  run(const std::string &function,
      const std::map<std::string, TensorView> &inputs) override;

  const Artifact &artifact() const override { return artifact_; }
  std::string backend() const override { return "cpu"; }
  std::string deviceDescription() const override;

  uint64_t kernelScratchBytes() const override;
  ArenaInfo arenaInfo(const std::string &function) const;

  struct FunctionState;
  struct Scratch;

private:
  Artifact artifact_;
  std::unique_ptr<cpu::ThreadPool> ownPool_;
  cpu::ThreadPool *pool_;
  std::vector<std::unique_ptr<FunctionState>> states_;
  std::unique_ptr<Scratch> scratch_;
};

} // namespace gpt
