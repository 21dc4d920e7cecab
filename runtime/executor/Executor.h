//===- Executor.h - What every backend's executor offers ------------------===//
//
// An executor runs the functions of a compiled artifact (docs/artifact.md):
// it binds the caller's host tensors to a function's inputs by name, runs the
// kernels, writes in-place outputs back into the caller's buffers and
// returns the rest. CpuExecutor and VulkanExecutor implement it; the trainer,
// the engine and `gpt bench` only see this interface.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/artifact/Artifact.h"

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace gpt {
namespace collective {
class Collective;
}

/// The one process group of this version: what --gpt-data-parallel reduces
/// over (the artifact's all_reduce "group").
inline constexpr const char *kDataParallelGroup = "data";

/// A call that cannot run (bad bindings, token id out of range, T > context,
/// no device).
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

class Executor {
public:
  virtual ~Executor() = default;

  /// Binds every input of `function` by name (missing, extra, wrong dtype or
  /// shape → ExecutorError naming it); B and T come from the "tokens" input's
  /// shape [B, T] (else from the first input with -1/-2 dims). Runs the
  /// kernels in order and returns the outputs that do not alias an input, by
  /// name. Aliased outputs are written in place into the caller's buffers.
  virtual std::map<std::string, HostTensor>
  run(const std::string &function,
      const std::map<std::string, TensorView> &inputs) = 0;

  virtual const Artifact &artifact() const = 0;
  /// "cpu" or "vulkan".
  virtual std::string backend() const = 0;
  /// A one-line description of where kernels run (CPU ISA and threads, or
  /// the Vulkan device).
  virtual std::string deviceDescription() const = 0;
  /// The most device memory (bytes) held at once so far, for backends with
  /// memory of their own (Vulkan); 0 where kernels run in host memory.
  virtual uint64_t peakDeviceMemoryBytes() const { return 0; }
  /// Bytes of kernel scratch outside the compiled memory plan (host memory
  /// on the CPU, device buffers on Vulkan, where peakDeviceMemoryBytes
  /// includes them).
  virtual uint64_t kernelScratchBytes() const { return 0; }

  /// Device residency. Inputs named here stay on the device between calls,
  /// one copy shared by every function that binds that name: run() uploads
  /// such an input only when there is no device copy yet or after
  /// markHostChanged(name), and in-place outputs into it update only the
  /// device copy (the caller's buffer is left as it was); readBack() copies
  /// the device data into `dst` (same dtype and shape). Training keeps
  /// parameters and optimizer state resident, the engine its weights and
  /// KV pool. The CPU executor computes in the caller's buffers, so there
  /// these are no-ops.
  virtual void setResident(const std::vector<std::string> &names) {
    (void)names;
  }
  virtual void markHostChanged(const std::string &name) { (void)name; }
  virtual void readBack(const std::string &name, const TensorView &dst) {
    (void)name;
    (void)dst;
  }

  /// Per-kernel time, accumulated over calls while profiling is on
  /// (`gpt bench --profile`), keyed by kernel name: wall time on the CPU,
  /// GPU timestamps on Vulkan.
  struct KernelTime {
    double seconds = 0.0;
    int64_t calls = 0;
  };
  /// The ranks the artifact's all_reduce kernels reduce over; nullptr (the
  /// default) is a single process, where all_reduce is the identity. Not
  /// owned.
  void setCollective(collective::Collective *c) { collective_ = c; }
  /// With false, all_reduce kernels do nothing: the micro-batches of a
  /// gradient accumulation before the last (the reduction acts on the
  /// accumulator, so reducing the final sum once is the same).
  void setCollectivesEnabled(bool on) { collectivesEnabled_ = on; }

  void setProfiling(bool on) { profiling_ = on; }
  bool profiling() const { return profiling_; }
  const std::map<std::string, KernelTime> &profile() const { return profile_; }
  void resetProfile() { profile_.clear(); }

protected:
  /// The group all_reduce kernels use in this call (nullptr: skip them).
  collective::Collective *activeCollective() const {
    return collectivesEnabled_ ? collective_ : nullptr;
  }
  collective::Collective *collective_ = nullptr;
  bool collectivesEnabled_ = true;
  bool profiling_ = false;
  std::map<std::string, KernelTime> profile_;
};

} // namespace gpt
