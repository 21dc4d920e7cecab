//===- VulkanExecutor.h - Runs the functions of an artifact on Vulkan -----===//
//
// Same contract as the CPU executor (executor/Executor.h, docs/artifact.md):
// the caller's host tensors are uploaded into device buffers (through a
// staging buffer when device memory is not host-visible), the function's
// kernels run as compute dispatches recorded into one command buffer (kept
// and replayed while the binding stays the same), and outputs are read
// back. Tensors are reached by buffer device address, so no tensor is
// limited by maxStorageBufferRange. See docs/vulkan.md.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/executor/Executor.h"

#include <memory>
#include <string>
#include <vector>

namespace gpt {

struct VulkanOptions {
  /// Index into listVulkanDevices(); -1 picks the first discrete GPU, else
  /// the first integrated GPU, else the first device (lavapipe included).
  int device = -1;
  /// Enable VK_LAYER_KHRONOS_validation; any warning or error it reports
  /// makes run() throw ExecutorError with the message. Default: the
  /// GPT_VK_VALIDATION environment variable is set and not "0".
  bool validation = false;
  /// Always go through staging buffers, even when device memory is
  /// host-visible (tests the path discrete GPUs take). Default: the
  /// GPT_VK_FORCE_STAGING environment variable.
  bool forceStaging = false;
  /// On-disk pipeline cache; "" = $XDG_CACHE_HOME/gpt/vulkan-pipelines.bin
  /// (else ~/.cache/...). "-" disables it.
  std::string pipelineCache;

  /// Options with the defaults the environment asks for.
  static VulkanOptions fromEnvironment();
};

struct VulkanDeviceInfo {
  int index = 0;
  std::string name;
  std::string
      type; ///< "discrete-gpu", "integrated-gpu", "virtual-gpu", "cpu", "other"
  std::string driver; ///< driver name and version
  std::string apiVersion;
  uint64_t deviceLocalBytes = 0;
  uint32_t subgroupSize = 0;
  bool float16 = false;
  /// Cooperative-matrix support as reported ("" when none), e.g. "NV:
  /// 16x16x16 f16*f16+f32 ...", and whether the tensor-core matmul can run.
  std::string coopmat;
  bool coopmatUsable = false;
  bool usable = true; ///< has what the backend needs (Vulkan 1.2, buffer device
                      ///< address, int64)
  std::string unusableReason;
};

/// Every physical device the Vulkan loader reports. Throws ExecutorError
/// when there is no Vulkan loader or no device.
std::vector<VulkanDeviceInfo> listVulkanDevices();

class VulkanExecutor : public Executor {
public:
  /// Validates the artifact (target must be "vulkan"), picks and opens the
  /// device, creates the pipelines it needs. Throws ArtifactError or
  /// ExecutorError ("no Vulkan device" etc.).
  explicit VulkanExecutor(
      const Artifact &artifact,
      const VulkanOptions &options = VulkanOptions::fromEnvironment());
  ~VulkanExecutor() override;
  VulkanExecutor(const VulkanExecutor &) = delete;
  VulkanExecutor &operator=(const VulkanExecutor &) = delete;

  std::map<std::string, HostTensor>
  run(const std::string &function,
      const std::map<std::string, TensorView> &inputs) override;

  void setResident(const std::vector<std::string> &names) override;
  void markHostChanged(const std::string &name) override;
  void readBack(const std::string &name, const TensorView &dst) override;

  const Artifact &artifact() const override;
  std::string backend() const override { return "vulkan"; }
  std::string deviceDescription() const override;
  uint64_t peakDeviceMemoryBytes() const override;
  uint64_t kernelScratchBytes() const override;
  const VulkanDeviceInfo &device() const;

  /// Validation-layer messages of severity warning or error seen since this
  /// executor opened (0 when validation is off), and the last one's text.
  int validationMessages() const;
  std::string lastValidationMessage() const;

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

} // namespace gpt
