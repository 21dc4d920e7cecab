//===- GPTBuilder.h - model config -> gpt dialect module --------*- C++ -*-===//
#ifndef GPT_FRONTEND_GPTBUILDER_H
#define GPT_FRONTEND_GPTBUILDER_H

#include "runtime/model/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace gpt {

struct FrontendOptions {
  /// `loss` takes a per-token weight tensor (chat fine-tuning trains only on
  /// assistant tokens). Without it, every token counts equally.
  bool weightedLoss = true;
};

/// Builds a module with two functions, batch and sequence dimensions dynamic:
///   func @forward(%tokens: tensor<?x?xi32>, params...) -> tensor<?x?xVxf32>
///   func @loss(%tokens, %targets: tensor<?x?xi32>,
///              [%weights: tensor<?x?xf32>,] params...) -> tensor<f32>
/// Parameters are function arguments named by a `gpt.param` attribute (see
/// runtime/model/Parameters.h), other inputs by `gpt.input`. Attention is
/// emitted decomposed (matmul, scale, causal mask, softmax, matmul) and every
/// bias add is a separate gpt.add: fusion is left to the passes.
/// The config must already be validated (parseModelConfig does this).
mlir::OwningOpRef<mlir::ModuleOp>
buildGPTModule(mlir::MLIRContext &context, const ModelConfig &config,
               const FrontendOptions &options = {});

} // namespace gpt

#endif
