// A run directory:
//
//   config.json            the model config (runtime/model/ModelConfig)
//   artifact.gptart        the compiled artifact the run uses
//   tokenizer/             a copy of the data's tokenizer
//   model.safetensors      weights (F32, GPT-2 names without "transformer.")
//   optimizer.safetensors  AdamW moments adam_m.<p>, adam_v.<p>
//   state.json             step, data-loader position, seeds, hyperparameters
//   metrics.jsonl, loss.svg
//
// A checkpoint is written file by file, each atomically (temporary file,
// fsync, rename), weights and optimizer first and state.json last. Both
// safetensors files record the step in their metadata; loading checks that
// they agree with state.json, so a crash between the renames is detected
// instead of resuming from mixed steps.
#pragma once

#include "data/Loader.h"
#include "train/Trainer.h"

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace gpt::train {

inline constexpr const char *kStateFormat = "gpt-train-state";
inline constexpr int kStateVersion = 1;

struct RunState {
  std::int64_t step = 0;
  std::int64_t targetSteps = 0; // --steps of the last invocation (0: budget)
  Hyperparams hp;
  data::LoaderState loader;
  std::uint64_t initSeed = 0;
  std::string dataDir;
  std::string tokenizerFingerprint;
  double elapsedSeconds = 0; // training time so far, over all invocations
  std::int64_t tokensSeen = 0;
  nlohmann::json config; // the model config as JSON

  nlohmann::ordered_json toJson() const;
  static RunState fromJson(const nlohmann::json &j, const std::string &where);
};

/// Writes model.safetensors, optimizer.safetensors, then state.json.
void saveCheckpoint(const std::filesystem::path &runDir, const Trainer &trainer,
                    const RunState &state);

/// Reads state.json (throws naming the file when absent or malformed).
RunState readRunState(const std::filesystem::path &runDir);

/// Loads the weights (and, when `withOptimizer`, the optimizer state) of the
/// checkpoint into the trainer, checking the steps agree with `state`.
void loadCheckpoint(const std::filesystem::path &runDir, Trainer &trainer,
                    const RunState &state, bool withOptimizer);

/// Loads only model.safetensors (for eval / generate).
void loadWeights(const std::filesystem::path &runDir, Trainer &trainer);

} // namespace gpt::train
