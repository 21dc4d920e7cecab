//===- ExecutorRunner.h -----------------------------------------*- C++ -*-===//
//
// FunctionRunner over an executor of any backend (runtime/backend).
#pragma once

#include "runtime/train/Runner.h"

#include <filesystem>
#include <memory>

#include "runtime/backend/Backend.h"

namespace gpt {
struct Artifact;
} // namespace gpt

namespace gpt::train {

class ExecutorRunner : public FunctionRunner {
public:
  /// Reads and validates the artifact file; runs it on the CPU with
  /// `threads` (0 = the default pool).
  ExecutorRunner(const std::filesystem::path &artifact, int threads);
  /// Same on the backend `options` names (the artifact's target must be
  /// that backend's).
  ExecutorRunner(const std::filesystem::path &artifact,
                 const BackendOptions &options);
  ~ExecutorRunner() override;

  bool hasFunction(const std::string &fn) const override;
  std::vector<std::string> inputNames(const std::string &fn) const override;
  std::map<std::string, HostResult>
  run(const std::string &fn,
      const std::map<std::string, TensorRef> &inputs) override;

  void setResident(const std::vector<std::string> &names) override;
  void markHostChanged(const std::string &name) override;
  void readBack(const std::string &name, TensorRef dst) override;
  void setCollective(collective::Collective *group) override;
  void setCollectivesEnabled(bool on) override;
  bool reduces(const std::string &fn) const override;

  const Artifact &artifact() const;
  Executor &executor() { return *exec_; }

private:
  std::unique_ptr<Executor> exec_;
};

} // namespace gpt::train
