//===- Runner.h -------------------------------------------------*- C++ -*-===//
//
// The seam between the trainer and whatever runs the compiled functions
// (the CPU executor today; Vulkan or a data-parallel wrapper later).
//
// A FunctionRunner runs one function of an artifact by name. Inputs are
// views of the caller's buffers; outputs that the artifact marks in place
// (alias_input) are written into those buffers, the others are returned.
#pragma once

#include "runtime/io/Safetensors.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gpt::collective {
class Collective;
}

namespace gpt::train {

// Training's host tensors are the safetensors tensors (checkpoints hold
// them as they are).
using io::DType;
using io::Tensor;

struct TensorRef {
  DType dtype = DType::F32; // F32 or I32
  std::vector<std::int64_t> shape;
  void *data = nullptr;

  static TensorRef of(Tensor &t) { return {t.dtype, t.shape, t.data.data()}; }
};

struct HostResult {
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

class FunctionRunner {
public:
  virtual ~FunctionRunner() = default;
  virtual bool hasFunction(const std::string &fn) const = 0;
  /// The names of fn's inputs, in order.
  virtual std::vector<std::string> inputNames(const std::string &fn) const = 0;
  /// Runs fn. `inputs` must hold every input name; returns the outputs that
  /// are not written in place, by name.
  virtual std::map<std::string, HostResult>
  run(const std::string &fn,
      const std::map<std::string, TensorRef> &inputs) = 0;

  /// Device residency (executor/Executor.h): inputs with these names stay on
  /// the device; the caller marks host changes and reads results back.
  /// No-ops where the runner computes in host memory.
  virtual void setResident(const std::vector<std::string> &names) {
    (void)names;
  }
  virtual void markHostChanged(const std::string &name) { (void)name; }
  virtual void readBack(const std::string &name, TensorRef dst) {
    (void)name;
    (void)dst;
  }

  /// Data parallelism (Executor::setCollective / setCollectivesEnabled):
  /// the ranks the artifact's all_reduce kernels reduce over, and whether
  /// the next runs reduce. No-ops for runners without collectives.
  virtual void setCollective(collective::Collective *group) { (void)group; }
  virtual void setCollectivesEnabled(bool on) { (void)on; }
  /// Whether `fn` runs an all_reduce (compiled with --data-parallel).
  virtual bool reduces(const std::string &fn) const {
    (void)fn;
    return false;
  }
};

} // namespace gpt::train
