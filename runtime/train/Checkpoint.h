//===- Checkpoint.h ---------------------------------------------*- C++ -*-===//
//
// A run directory:
//
//   config.json            the model config (schema/ModelConfig)
//   artifact.gptart        the compiled artifact the run uses
//   tokenizer/             a copy of the data's tokenizer
//   checkpoints/model-<step>.safetensors      weights of the committed step
//   checkpoints/optimizer-<step>.safetensors  AdamW moments adam_m/v.<p>
//   state.json             step, data-loader position, seeds, hyperparameters,
//                          and the two files above: the commit point
//   model.safetensors      the committed weights again (a hard link), for
//                          readers that want one fixed name
//   metrics.jsonl, loss.svg
//
// A checkpoint is crash-consistent: the step-stamped files are written
// first (each atomically: temporary file, fsync, rename), then state.json
// is replaced atomically, which commits the step; only then is
// model.safetensors re-pointed and the previous step's files deleted. A
// kill at any point leaves either the previous checkpoint or the new one
// whole. repairRunDir() removes what an interrupted write left behind.
#pragma once

#include "runtime/data/Loader.h"
#include "runtime/train/Trainer.h"

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
  /// The committed files, relative to the run directory (older runs:
  /// model.safetensors and optimizer.safetensors).
  std::string weightsFile = "model.safetensors";
  std::string optimizerFile = "optimizer.safetensors";

  nlohmann::ordered_json toJson() const;
  static RunState fromJson(const nlohmann::json &j, const std::string &where);
};

/// Writes the step-stamped weights and optimizer files, commits them with
/// state.json, re-points model.safetensors and deletes the previous step's
/// files. `state.weightsFile`/`optimizerFile` are set to the new files.
void saveCheckpoint(const std::filesystem::path &runDir, const Trainer &trainer,
                    RunState &state);

/// Removes what an interrupted checkpoint left behind: temporary files,
/// step files state.json does not name, and a model.safetensors that is not
/// the committed weights (re-pointed). Returns the number of files removed
/// or fixed.
int repairRunDir(const std::filesystem::path &runDir);

/// Reads state.json (throws naming the file when absent or malformed).
RunState readRunState(const std::filesystem::path &runDir);

/// Loads the weights (and, when `withOptimizer`, the optimizer state) of the
/// checkpoint into the trainer, checking the steps agree with `state`.
void loadCheckpoint(const std::filesystem::path &runDir, Trainer &trainer,
                    const RunState &state, bool withOptimizer);

/// Loads only the committed weights (state.json's, else
/// model.safetensors), for eval / generate.
void loadWeights(const std::filesystem::path &runDir, Trainer &trainer);

} // namespace gpt::train
