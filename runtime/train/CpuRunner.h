// FunctionRunner over the CPU executor (runtime/executor).
#pragma once

#include "train/Runner.h"

#include <filesystem>
#include <memory>

namespace gpt {
class CpuExecutor;
struct Artifact;
} // namespace gpt

namespace gpt::train {

class CpuRunner : public FunctionRunner {
public:
  /// Reads and validates the artifact file; threads 0 = the default pool.
  CpuRunner(const std::filesystem::path &artifact, int threads);
  ~CpuRunner() override;

  bool hasFunction(const std::string &fn) const override;
  std::vector<std::string> inputNames(const std::string &fn) const override;
  std::map<std::string, HostResult>
  run(const std::string &fn,
      const std::map<std::string, TensorRef> &inputs) override;

  const Artifact &artifact() const;

private:
  std::unique_ptr<CpuExecutor> exec_;
};

} // namespace gpt::train
