//===- Backend.cpp --------------------------------------------------------===//
#include "runtime/backend/Backend.h"

#include "runtime/executor/CpuExecutor.h"
#ifdef GPT_HAVE_VULKAN
#include "runtime/vulkan/VulkanExecutor.h"
#endif

#include <stdexcept>

namespace gpt {

void checkBackendName(const std::string &name) {
  if (name == "cpu")
    return;
  if (name == "vulkan") {
#ifdef GPT_HAVE_VULKAN
    return;
#else
    throw std::invalid_argument("this gpt was built without the Vulkan "
                                "backend (-DGPT_BUILD_VULKAN=OFF)");
#endif
  }
  throw std::invalid_argument("unknown backend '" + name +
                              "' (known: cpu, vulkan)");
}

std::string artifactTarget(const BackendOptions &options) {
  checkBackendName(options.name);
  return options.name;
}

std::unique_ptr<Executor> makeExecutor(const Artifact &artifact,
                                       const BackendOptions &options) {
  checkBackendName(options.name);
  if (options.name == "cpu")
    return std::make_unique<CpuExecutor>(artifact, options.threads);
#ifdef GPT_HAVE_VULKAN
  VulkanOptions vo = VulkanOptions::fromEnvironment();
  if (options.device >= 0)
    vo.device = options.device;
  return std::make_unique<VulkanExecutor>(artifact, vo);
#else
  return nullptr; // unreachable: checkBackendName threw
#endif
}

} // namespace gpt
