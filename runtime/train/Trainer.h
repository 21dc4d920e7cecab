//===- Trainer.h ------------------------------------------------*- C++ -*-===//
//
// The training step on the host side: it owns the parameters, the gradient
// accumulators and AdamW's moments as host buffers (named as the artifact
// names its inputs: `<param>`, `grad.<param>`, `adam_m.<param>`,
// `adam_v.<param>`) and drives the compiled functions:
//
//   for each micro-batch:  train_grad(tokens, targets, weights,
//                                     grad_scale = 1/grad_accum, ...) -> loss
//   then once:             apply_optimizer(step, hparams, ...) -> grad_norm, lr
//
// Data parallelism (setCollective): the artifact's train_grad averages the
// accumulators over the ranks (gpt.all_reduce, --gpt-data-parallel) on the
// last micro-batch of a step; step() also averages the loss and agrees on
// a non-finite one, so every rank takes the same decisions.
#pragma once

#include "runtime/data/Loader.h"
#include "runtime/io/Safetensors.h"
#include "runtime/train/Runner.h"
#include "schema/ModelConfig.h"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace gpt::train {

/// Hyperparameters of a run (all resolved: no "use the default" markers).
struct Hyperparams {
  std::int64_t batch = 8;     // B, sequences per micro-batch
  std::int64_t seq = 64;      // T
  std::int64_t gradAccum = 1; // micro-batches per optimizer step
  double lr = 1e-3;
  double minLr = 1e-4;
  std::int64_t warmup = 10;
  std::int64_t totalSteps = 100; // length of the LR schedule
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weightDecay = 0.1;
  double gradClip = 1.0;
  std::uint64_t seed = 1337;

  /// The f32[9] the optimizer takes: [lr, min_lr, warmup, total_steps,
  /// beta1, beta2, eps, weight_decay, grad_clip].
  std::vector<float> optimizerVector() const;
  nlohmann::ordered_json toJson() const;
  static Hyperparams fromJson(const nlohmann::json &j,
                              const std::string &where);
};

/// A NaN or infinite loss or gradient norm: training cannot continue.
class NonFiniteError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct StepResult {
  double loss = 0; // mean over the micro-batches
  double gradNorm = 0;
  double lr = 0;
  std::int64_t tokens = 0;
};

class Trainer {
public:
  /// Without `forTraining` only forward/evalLoss work (no gradient or
  /// optimizer buffers are allocated).
  Trainer(FunctionRunner &runner, const ModelConfig &config,
          const Hyperparams &hp, bool forTraining = true);

  /// Fresh GPT-2 style initialization (train/Init.h) and zero state.
  void initialize(std::uint64_t seed);
  /// Replaces the parameters; every parameter must be present with its
  /// shape and dtype F32 (extra tensors are errors). `where` names the file.
  void loadParameters(const std::map<std::string, Tensor> &tensors,
                      const std::string &where);
  /// Replaces adam_m.* / adam_v.* (same checks).
  void loadOptimizerState(const std::map<std::string, Tensor> &tensors,
                          const std::string &where);

  /// One optimizer step over `microBatches` (size must be grad_accum).
  /// Throws NonFiniteError if a loss or the gradient norm is not finite
  /// (the parameters are then left unchanged when the loss was the cause).
  /// With several ranks: the micro-batches are this rank's share, and the
  /// result (loss, tokens) is the whole job's.
  StepResult step(const std::vector<data::Batch> &microBatches);

  /// The ranks this trainer's steps reduce over (not owned; nullptr: one
  /// process). Throws when there are several ranks but the artifact's
  /// train_grad does not reduce (compiled without --data-parallel).
  /// `shardOptimizer` (ZeRO-1): this rank keeps the AdamW moments of the
  /// parameters it owns only (a greedy balance of bytes over the ranks),
  /// updates those (@apply_adamw.<p>) and receives the others from their
  /// owners; the result is bitwise the unsharded step. Call before
  /// initialize() or loading.
  void setCollective(collective::Collective *group,
                     bool shardOptimizer = false);
  bool shardsOptimizer() const { return sharded_; }
  /// The rank that updates parameter `name` (0 when not sharded).
  int ownerOf(const std::string &name) const;

  /// eval_loss on one batch: the weighted mean loss and the weight sum.
  double evalLoss(const data::Batch &batch, double *weightSum = nullptr);
  /// forward(tokens [B, T]) -> logits [B, T, V].
  HostResult forward(const std::vector<std::int32_t> &tokens, std::int64_t B,
                     std::int64_t T);

  std::int64_t stepsDone() const { return steps_; }
  void setStepsDone(std::int64_t s) { steps_ = s; }
  const Hyperparams &hyperparams() const { return hp_; }
  void setHyperparams(const Hyperparams &hp) { hp_ = hp; }
  const ModelConfig &config() const { return config_; }

  const std::map<std::string, Tensor> &parameters() const {
    pullFromDevice();
    return params_;
  }
  /// adam_m.<p> and adam_v.<p>. Sharded, every rank must call it together
  /// (the owners send their moments) and every rank gets all of them.
  std::map<std::string, Tensor> optimizerState() const;

private:
  std::map<std::string, TensorRef>
  bindInputs(const std::string &fn, const data::Batch *batch,
             std::map<std::string, Tensor> &scalars);

  FunctionRunner &runner_;
  ModelConfig config_;
  Hyperparams hp_;
  std::vector<std::string> order_; // parameter names in spec order
  /// The host copies of parameters and state. With a device-resident
  /// runner the device is ahead after a step; parameters() and
  /// optimizerState() read it back first (hence mutable).
  mutable std::map<std::string, Tensor> params_;
  mutable std::map<std::string, Tensor> state_; // grad.*, adam_m.*, adam_v.*
  mutable bool deviceAhead_ = false;
  void pullFromDevice() const;
  void pushToDevice(); ///< host copies changed: upload before the next run
  std::int64_t steps_ = 0;
  collective::Collective *group_ = nullptr;
  bool sharded_ = false;
  std::map<std::string, int> owner_; // parameter -> rank (sharded only)
  void shardedUpdate(StepResult &r);
  /// Runs `fn` (apply_optimizer or optimizer_scalars) for this step, fills
  /// r's grad norm and LR, and returns the step/hparams inputs it took.
  std::map<std::string, Tensor> runOptimizerFunction(const std::string &fn,
                                                     StepResult &r);
};

} // namespace gpt::train
