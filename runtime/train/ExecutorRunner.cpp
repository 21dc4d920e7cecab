//===- ExecutorRunner.cpp -------------------------------------------------===//
#include "runtime/train/ExecutorRunner.h"

#include "runtime/artifact/Artifact.h"
#include "runtime/executor/Executor.h"
#include "schema/KernelRegistry.h"

namespace gpt::train {

ExecutorRunner::ExecutorRunner(const std::filesystem::path &artifact,
                               int threads)
    : ExecutorRunner(artifact, BackendOptions{"cpu", threads, -1}) {}

ExecutorRunner::ExecutorRunner(const std::filesystem::path &artifact,
                               const BackendOptions &options) {
  Artifact a = readArtifact(artifact.string());
  exec_ = makeExecutor(a, options);
}

ExecutorRunner::~ExecutorRunner() = default;

const Artifact &ExecutorRunner::artifact() const { return exec_->artifact(); }

bool ExecutorRunner::hasFunction(const std::string &fn) const {
  return exec_->artifact().findFunction(fn) != nullptr;
}

std::vector<std::string>
ExecutorRunner::inputNames(const std::string &fn) const {
  const Function *f = exec_->artifact().findFunction(fn);
  if (!f)
    throw std::runtime_error("the artifact has no function '" + fn + "'");
  std::vector<std::string> out;
  for (const FunctionInput &in : f->inputs)
    out.push_back(in.name);
  return out;
}

std::map<std::string, HostResult>
ExecutorRunner::run(const std::string &fn,
                    const std::map<std::string, TensorRef> &inputs) {
  std::map<std::string, TensorView> views;
  for (const auto &[name, ref] : inputs) {
    TensorView v;
    if (ref.dtype == io::DType::F32)
      v.dtype = gpt::DType::F32;
    else if (ref.dtype == io::DType::I32)
      v.dtype = gpt::DType::I32;
    else
      throw std::runtime_error("input '" + name + "' of '" + fn +
                               "': only F32 and I32 tensors can be passed");
    v.shape = ref.shape;
    v.data = ref.data;
    views.emplace(name, std::move(v));
  }
  std::map<std::string, HostResult> out;
  for (auto &[name, t] : exec_->run(fn, views)) {
    HostResult r;
    r.shape = t.shape;
    if (t.dtype == gpt::DType::F32)
      r.values = std::move(t.f32);
    else
      r.values.assign(t.i32.begin(), t.i32.end());
    out.emplace(name, std::move(r));
  }
  return out;
}

void ExecutorRunner::setResident(const std::vector<std::string> &names) {
  exec_->setResident(names);
}

void ExecutorRunner::markHostChanged(const std::string &name) {
  exec_->markHostChanged(name);
}

void ExecutorRunner::readBack(const std::string &name, TensorRef dst) {
  if (dst.dtype != io::DType::F32 && dst.dtype != io::DType::I32)
    throw std::runtime_error("readBack '" + name + "': only F32 and I32");
  exec_->readBack(
      name, {dst.dtype == io::DType::F32 ? gpt::DType::F32 : gpt::DType::I32,
             dst.shape, dst.data});
}

void ExecutorRunner::setCollective(collective::Collective *group) {
  exec_->setCollective(group);
}

void ExecutorRunner::setCollectivesEnabled(bool on) {
  exec_->setCollectivesEnabled(on);
}

bool ExecutorRunner::reduces(const std::string &fn) const {
  const std::string allReduce = kernelName(KernelId::AllReduce);
  for (const Function &f : artifact().functions)
    if (f.name == fn)
      for (const Kernel &k : f.kernels)
        if (k.kernel == allReduce)
          return true;
  return false;
}

} // namespace gpt::train
