//===- RunDir.h -------------------------------------------------*- C++ -*-===//
//
// Shared by `gpt train`, `gpt eval` and `gpt generate`: presets, loading a
// run directory (config, artifact, tokenizer, weights) for inference.
#pragma once

#include "runtime/backend/Backend.h"
#include "runtime/tokenizer/Tokenizer.h"
#include "runtime/train/ExecutorRunner.h"
#include "runtime/train/Trainer.h"
#include "schema/ModelConfig.h"

#include <filesystem>
#include <memory>
#include <string>

namespace gpt::cli {

/// Shapes of `gpt train --preset NAME` (vocab_size is filled in later).
ModelConfig trainPreset(const std::string &name);

/// Errors unless the artifact was compiled for exactly `config`.
void checkArtifactConfig(const Artifact &artifact, const ModelConfig &config,
                         const std::string &artifactPath);

/// A trained model ready for forward / eval_loss.
struct LoadedRun {
  ModelConfig config;
  std::unique_ptr<train::ExecutorRunner> runner;
  std::unique_ptr<train::Trainer> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
};
/// Loads on `backend`; when the run directory's artifact was compiled for
/// another target, the one for this backend is compiled (and cached).
LoadedRun loadRun(const std::filesystem::path &runDir,
                  const BackendOptions &backend);

} // namespace gpt::cli
