//===- Parity.h -------------------------------------------------*- C++ -*-===//
//
// Runs one hand-written artifact on the CPU executor and on the Vulkan
// executor (lavapipe in CI, under the validation layers) and compares.
#pragma once

#include "executor/Builder.h"
#include "runtime/vulkan/VulkanExecutor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

namespace gpt::test {

/// One Vulkan executor per artifact, validation on unless the environment
/// says GPT_VK_VALIDATION=0 (a GPU machine without the layers installed:
/// scripts/gpu-check.sh).
inline VulkanOptions testVulkanOptions() {
  VulkanOptions o = VulkanOptions::fromEnvironment();
  const char *env = std::getenv("GPT_VK_VALIDATION");
  o.validation = !(env && std::string(env) == "0");
  o.pipelineCache = "-";
  return o;
}

/// The artifact of `b` with target "vulkan" (same kernels).
inline Artifact vulkanArtifactOf(const FunctionBuilder &b) {
  json m = manifestOf({b.function()});
  m["target"] = "vulkan";
  return parseArtifact(serializeArtifact(m), "test.gptart");
}

struct ParityResult {
  std::map<std::string, HostTensor> cpu, vk;
  /// In-place inputs after each run (copies of the caller's buffers).
  std::map<std::string, Buf> cpuInputs, vkInputs;
};

/// Runs function `b.name` on both backends with copies of `inputs` and
/// fails the test on any validation message.
/// `vkArtifact`: the Vulkan artifact to run (default: vulkanArtifactOf(b));
/// `replay`: run the Vulkan side twice, keeping the second (replayed) call.
inline ParityResult runBoth(const FunctionBuilder &b,
                            const std::map<std::string, Buf> &inputs,
                            const Artifact *vkArtifact = nullptr,
                            bool replay = false) {
  ParityResult r;
  r.cpuInputs = inputs;
  r.vkInputs = inputs;
  auto views = [](std::map<std::string, Buf> &bufs) {
    std::map<std::string, TensorView> v;
    for (auto &kv : bufs)
      v[kv.first] = kv.second.view();
    return v;
  };
  CpuExecutor cpu(artifactOf(b), 1);
  r.cpu = cpu.run(b.name, views(r.cpuInputs));
  VulkanExecutor vk(vkArtifact ? *vkArtifact : vulkanArtifactOf(b),
                    testVulkanOptions());
  r.vk = vk.run(b.name, views(r.vkInputs));
  if (replay) { // the second call replays the recorded command buffer
    r.vkInputs = inputs;
    r.vk = vk.run(b.name, views(r.vkInputs));
  }
  EXPECT_EQ(vk.validationMessages(), 0) << vk.lastValidationMessage();
  return r;
}

/// A test function (usually one kernel) and its input buffers by name.
struct KernelCase : CaseInputs {
  ParityResult run() { return runBoth(b, bufs); }
  /// Runs on a fresh Vulkan executor (validation on); in-place inputs are
  /// updated in `bufs`.
  std::map<std::string, HostTensor> runVulkan() {
    VulkanExecutor vk(vulkanArtifactOf(b), testVulkanOptions());
    auto out = vk.run(b.name, views());
    EXPECT_EQ(vk.validationMessages(), 0) << vk.lastValidationMessage();
    return out;
  }
  /// The Vulkan executor's error for this call ("<no error>" if none).
  std::string vkError() {
    VulkanExecutor vk(vulkanArtifactOf(b), testVulkanOptions());
    std::map<std::string, Buf> copy = bufs;
    std::map<std::string, TensorView> views;
    for (auto &kv : copy)
      views[kv.first] = kv.second.view();
    try {
      vk.run(b.name, views);
    } catch (const ExecutorError &e) {
      return e.what();
    }
    return "<no error>";
  }
};

/// Sets an environment variable for the scope ("" = unset) and restores
/// it. The Vulkan executor reads its switches (GPT_VK_SUBGROUPS,
/// GPT_VK_MATMUL) when it opens the device: set them before constructing it.
struct ScopedEnv {
  ScopedEnv(const char *name, const std::string &value) : name_(name) {
    const char *old = std::getenv(name);
    had_ = old != nullptr;
    if (had_)
      previous_ = old;
    if (value.empty())
      ::unsetenv(name);
    else
      ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_)
      ::setenv(name_, previous_.c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv &) = delete;
  ScopedEnv &operator=(const ScopedEnv &) = delete;

private:
  const char *name_;
  bool had_ = false;
  std::string previous_;
};

/// |a - b| <= atol + rtol * |a| element-wise; reports the worst element.
inline void expectClose(const std::vector<float> &want,
                        const std::vector<float> &got, float atol, float rtol,
                        const std::string &what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  size_t worst = 0;
  double worstExcess = -1;
  for (size_t i = 0; i < want.size(); ++i) {
    double err = std::fabs(double(want[i]) - double(got[i]));
    double excess = err - (atol + rtol * std::fabs(double(want[i])));
    if (std::isnan(got[i]) != std::isnan(want[i]))
      excess = 1e30;
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  EXPECT_LE(worstExcess, 0.0)
      << what << ": element " << worst << " cpu " << want[worst] << " vulkan "
      << got[worst] << " (atol " << atol << ", rtol " << rtol << ")";
}

inline void expectClose(const HostTensor &want, const HostTensor &got,
                        float atol, float rtol, const std::string &what) {
  EXPECT_EQ(want.shape, got.shape) << what;
  if (want.dtype == DType::I32) {
    EXPECT_EQ(want.i32, got.i32) << what;
    return;
  }
  expectClose(want.f32, got.f32, atol, rtol, what);
}

/// Compares every returned output and every in-place input.
inline void expectParity(const ParityResult &r, float atol, float rtol) {
  for (const auto &kv : r.cpu) {
    auto it = r.vk.find(kv.first);
    ASSERT_NE(it, r.vk.end()) << "vulkan lacks output " << kv.first;
    expectClose(kv.second, it->second, atol, rtol, "output " + kv.first);
  }
  for (const auto &kv : r.cpuInputs) {
    const Buf &v = r.vkInputs.at(kv.first);
    if (kv.second.dtype == DType::F32)
      expectClose(kv.second.f, v.f, atol, rtol, "in-place input " + kv.first);
    else
      EXPECT_EQ(kv.second.i, v.i) << "in-place input " << kv.first;
  }
}

} // namespace gpt::test
