//===- TrainRun.h -----------------------------------------------*- C++ -*-===//
//
// A whole training run: set up or resume the run directory, loop over
// steps (data loader -> Trainer::step), log metrics, evaluate, checkpoint,
// and stop at the step target or time budget (or on a NaN/inf loss).
#pragma once

#include "runtime/train/Checkpoint.h"
#include "runtime/train/Runner.h"
#include "runtime/train/Trainer.h"
#include "schema/ModelConfig.h"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace gpt::train {

struct RunOptions {
  std::filesystem::path runDir;
  std::filesystem::path dataDir;
  ModelConfig config;
  /// hp.totalSteps is the LR schedule's length (cosine decay to min_lr).
  Hyperparams hp;
  std::int64_t steps = 0; // total steps of the run (0: time budget)
  double timeBudget = 0;  // seconds of this invocation (0: none)
  bool resume = false;    // continue the checkpoint in runDir
  /// Fine-tuning: start a fresh run from these weights (model.safetensors
  /// of a trained or imported run) instead of a random initialization.
  std::filesystem::path initFrom;
  std::int64_t evalEvery = 0; // steps; 0: only at the end
  std::int64_t evalBatches = 20;
  std::int64_t checkpointEvery = 0; // steps; 0: only at the end
  /// Lines for the log (stderr) and the live progress line.
  std::function<void(const std::string &)> log;
  std::function<void(const std::string &)> progress;
  /// Report progress at most every 200 ms (a terminal), else every step.
  bool progressThrottle = true;
  /// Set (e.g. from SIGINT) to stop after the current step with a checkpoint.
  const std::atomic<bool> *stopRequested = nullptr;
  /// Data parallelism (docs/distributed.md): the ranks of the job (not
  /// owned; nullptr: one process). Each rank trains on its share of every
  /// global batch (B x ranks x grad_accum windows); rank 0 alone logs,
  /// writes metrics, the loss curve and checkpoints. Decisions that depend
  /// on time or signals are taken on rank 0's clock and any rank's stop
  /// request, so all ranks take them together.
  collective::Collective *group = nullptr;
  /// ZeRO-1 (Trainer::setCollective): each rank keeps the moments of its
  /// own parameters; checkpoints are the same as unsharded ones.
  bool shardOptimizer = false;
};

struct RunResult {
  std::int64_t steps = 0;
  double lastLoss = 0;
  std::optional<double> lastValLoss;
  double trainSeconds = 0;
  bool nonFinite = false; // stopped on NaN/inf (checkpoint not updated)
  bool interrupted = false;
  std::string message;
};

/// Runs training; the run directory must already hold config.json,
/// tokenizer/ and artifact.gptart (see prepareRunDir). Throws on errors.
RunResult runTraining(FunctionRunner &runner, const RunOptions &options);

/// Creates the run directory for a fresh run: config.json, tokenizer copy
/// (from the prepared data's manifest) and a copy of the artifact. Refuses a
/// directory that already holds a checkpoint.
void prepareRunDir(const std::filesystem::path &runDir,
                   const std::filesystem::path &dataDir,
                   const ModelConfig &config,
                   const std::filesystem::path &artifact);

} // namespace gpt::train
