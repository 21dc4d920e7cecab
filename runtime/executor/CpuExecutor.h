//===- CpuExecutor.h - Runs the functions of an artifact on the CPU -------===//
//
// The executor binds the caller's tensors to a function's inputs, derives B
// and T from their shapes, lays the function's values out in its two arenas
// (kept between calls, grown when B*T grows) and runs the kernels in order
// with the gpt_cpu_kernels library. See docs/artifact.md for the contract.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "artifact/Artifact.h"

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

/// A call that cannot run (bad bindings, token id out of range, T > context).
class ExecutorError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A caller-owned buffer (row-major, contiguous).
struct TensorView {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  void *data = nullptr;
};

/// A tensor owned by the caller after run() returns; f32 or i32 holds the
/// data according to dtype.
struct HostTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<float> f32;
  std::vector<int32_t> i32;
};

/// Arena sizes of one function, for tests and diagnostics.
struct ArenaInfo {
  size_t staticBytes = 0;   ///< allocated static arena
  size_t tokenCapacity = 0; ///< allocated token arena, bytes
  int tokenAllocations = 0; ///< how often the token arena was (re)allocated
  int64_t B = 0, T = 0;     ///< the binding of the last call
};

class CpuExecutor {
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
      const std::map<std::string, TensorView> &inputs);

  const Artifact &artifact() const { return artifact_; }

  /// Per-kernel wall time, accumulated over calls while profiling is on
  /// (`gpt bench --profile`). Keyed by kernel name.
  struct KernelTime {
    double seconds = 0.0;
    int64_t calls = 0;
  };
  void setProfiling(bool on) { profiling_ = on; }
  const std::map<std::string, KernelTime> &profile() const { return profile_; }
  void resetProfile() { profile_.clear(); }
  ArenaInfo arenaInfo(const std::string &function) const;

  struct FunctionState;
  struct Scratch;

private:
  bool profiling_ = false;
  std::map<std::string, KernelTime> profile_;
  Artifact artifact_;
  std::unique_ptr<cpu::ThreadPool> ownPool_;
  cpu::ThreadPool *pool_;
  std::vector<std::unique_ptr<FunctionState>> states_;
  std::unique_ptr<Scratch> scratch_;
};

} // namespace gpt
