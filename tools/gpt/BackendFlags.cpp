//===- BackendFlags.cpp ---------------------------------------------------===//
#include "BackendFlags.h"

#include "runtime/artifact/Artifact.h"
#include "runtime/io/ArtifactCache.h"

namespace gpt::cli {

void addBackendFlags(CLI::App *cmd, BackendOptions &o) {
  cmd->add_option("--backend", o.name,
                  "Where kernels run: cpu | vulkan (default: cpu)")
      ->check([](const std::string &name) -> std::string {
        try {
          checkBackendName(name);
        } catch (const std::exception &e) {
          return e.what();
        }
        return "";
      });
  cmd->add_option("--device", o.device,
                  "Vulkan device index (see `gpt devices`; default: the best "
                  "GPU, else the first device)")
      ->check(CLI::NonNegativeNumber);
}

std::filesystem::path
artifactForBackend(const std::filesystem::path &candidate,
                   const ModelConfig &config, const BackendOptions &backend,
                   const std::function<void(const std::string &)> &log) {
  const std::string target = artifactTarget(backend);
  if (!candidate.empty() && std::filesystem::exists(candidate)) {
    Artifact a = readArtifact(candidate.string());
    if (a.target == target)
      return candidate;
  }
  return io::compileArtifact(config, io::selfExecutable(nullptr), log, target);
}

} // namespace gpt::cli
