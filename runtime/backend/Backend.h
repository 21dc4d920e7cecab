//===- Backend.h - Choosing where an artifact runs ------------------------===//
//
// Every command takes `--backend cpu|vulkan` (and `--device N` for Vulkan);
// this is the one place that turns those into an executor, so the trainer,
// the engine and the benchmarks never name a backend.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/executor/Executor.h"

#include <memory>
#include <string>

namespace gpt {

struct BackendOptions {
  std::string name = "cpu"; ///< "cpu" | "vulkan"
  int threads = 0;          ///< CPU threads (0: all); the CPU backend only
  int device = -1;          ///< Vulkan device index (-1: the best one)
};

/// Throws std::invalid_argument naming the known backends unless `name` is
/// one; also when the runtime was built without the Vulkan backend.
void checkBackendName(const std::string &name);

/// The artifact target a backend runs ("cpu" or "vulkan").
std::string artifactTarget(const BackendOptions &options);

/// An executor of `artifact` on the chosen backend. Throws ExecutorError
/// (e.g. no Vulkan device, or an artifact compiled for another target).
std::unique_ptr<Executor> makeExecutor(const Artifact &artifact,
                                       const BackendOptions &options);

} // namespace gpt
