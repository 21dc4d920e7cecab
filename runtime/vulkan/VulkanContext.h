//===- VulkanContext.h - Instance, device, memory and pipelines -----------===//
//
// Internal to gpt_vulkan. A thin RAII layer over the C API (vulkan.h
// compiles in 0.1 s; vulkan.hpp would cost seconds per file): one instance
// (with the validation layer and a message counter when asked), one device
// with one compute queue, buffers with device addresses, and compute
// pipelines built from SPIR-V with one shared push-constant-only layout and
// an on-disk pipeline cache.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/vulkan/KernelContext.h"
#include "runtime/vulkan/VulkanExecutor.h"

#include <vulkan/vulkan.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gpt::vk {

/// Throws ExecutorError naming the call unless r is VK_SUCCESS.
void check(VkResult r, const char *what);
const char *resultName(VkResult r);

/// A buffer with its own memory. `mapped` is non-null when the memory is
/// host-visible and coherent (then the host reads and writes it directly).
struct Buffer {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkDeviceSize size = 0;
  uint64_t address = 0;
  char *mapped = nullptr;
  /// Mapped memory the host may also read fast (HOST_CACHED). Write-combined
  /// VRAM (resizable BAR) is mapped for uploads but read through staging.
  bool hostCached = false;
  /// Bytes of device memory behind it (the driver's size, >= size).
  VkDeviceSize allocated = 0;
};

enum class MemoryUse {
  Device,  ///< device-local; mapped only if also host-visible and allowed
  Upload,  ///< host-visible, coherent (staging to the device, constants)
  Readback ///< host-visible, coherent, cached if possible
};

class Context {
public:
  /// The process-wide context for these options and the GPT_VK_* switches
  /// now in the environment, opened on first use and kept until the process
  /// ends. Executors share it instead of each creating and destroying an
  /// instance and a device: NVIDIA's driver (580, in a VM) stops creating
  /// instances after ~30 create/destroy cycles in one process, and opening
  /// costs tens of milliseconds. Executors on one context must not run on
  /// different threads at once (they share the command pool).
  static Context &acquire(const VulkanOptions &options);

  explicit Context(const VulkanOptions &options);
  ~Context();
  Context(const Context &) = delete;
  Context &operator=(const Context &) = delete;

  Buffer createBuffer(VkDeviceSize bytes, MemoryUse use,
                      const std::string &what);
  void destroyBuffer(Buffer &buffer);

  /// The pipeline of a build-time shader (created on first use).
  VkPipeline pipeline(const std::string &shader);
  /// The pipeline of artifact-provided SPIR-V, cached under `key`.
  VkPipeline pipeline(const std::string &key,
                      const std::vector<uint32_t> &spirv);
  VkPipelineLayout pipelineLayout() const { return layout_; }

  VkDevice device() const { return device_; }
  VkQueue queue() const { return queue_; }
  uint32_t queueFamily() const { return queueFamily_; }
  VkCommandPool commandPool() const { return commandPool_; }
  const DeviceCaps &caps() const { return caps_; }
  const VulkanDeviceInfo &info() const { return info_; }
  bool timestamps() const { return timestampValidBits_ > 0; }
  double timestampPeriodNs() const { return timestampPeriod_; }
  uint32_t pushConstantBytes() const { return pushBytes_; }
  /// The largest single buffer: min(maxMemoryAllocationSize, maxBufferSize);
  /// GPT_VK_MAX_BUFFER_BYTES lowers it (tests of the arena split).
  VkDeviceSize maxBufferBytes() const { return maxBufferBytes_; }
  /// Mask of the valid bits of a timestamp.
  uint64_t timestampMask() const {
    return timestampValidBits_ >= 64 ? ~uint64_t(0)
                                     : (uint64_t(1) << timestampValidBits_) - 1;
  }

  /// Device memory this process holds now through createBuffer, and the
  /// most it has held at once (all executors on this context together).
  uint64_t allocatedBytes() const { return allocatedBytes_.load(); }
  uint64_t peakAllocatedBytes() const { return peakAllocatedBytes_.load(); }

  int validationMessages() const { return messages_.count.load(); }
  std::string lastValidationMessage() const;

  /// Submits one command buffer and waits for it.
  void submitAndWait(VkCommandBuffer cmd);
  /// Writes the pipeline cache file (best effort; executors call it when
  /// they close, since the shared context lives until the process ends).
  void savePipelineCache();

  struct Messages {
    std::atomic<int> count{0};
    mutable std::mutex mutex;
    std::string last;
  };

private:
  // The steps of the constructor, in order.
  void createMessenger(const VkDebugUtilsMessengerCreateInfoEXT &mi);
  int pickDevice(const std::vector<VkPhysicalDevice> &devices);
  void applyTestSwitches();
  void readDeviceLimits();
  void createDeviceAndQueue();
  void createCommandObjects();
  void openPipelineCache();

  VkPipeline createPipeline(const uint32_t *words, size_t count,
                            const std::string &name);
  void release();

  VulkanOptions options_;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queueFamily_ = 0;
  VkCommandPool commandPool_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  std::string cachePath_;
  VkPhysicalDeviceMemoryProperties memory_{};
  DeviceCaps caps_;
  VulkanDeviceInfo info_;
  uint32_t timestampValidBits_ = 0;
  double timestampPeriod_ = 1.0;
  uint32_t pushBytes_ = 128;
  VkDeviceSize maxBufferBytes_ = VkDeviceSize(1) << 30;
  /// Device-local memory the host can map is used directly only where it is
  /// the main device memory (integrated GPUs, CPUs, resizable BAR), not the
  /// 256 MiB BAR window of a discrete GPU.
  bool directDeviceMemory_ = false;
  std::map<std::string, VkPipeline> pipelines_;
  std::mutex pipelineMutex_;
  Messages messages_;
  std::atomic<uint64_t> allocatedBytes_{0};
  std::atomic<uint64_t> peakAllocatedBytes_{0};
};

} // namespace gpt::vk
