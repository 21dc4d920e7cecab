//===- GPTBuilder.h - model config -> gpt dialect module --------*- C++ -*-===//
#ifndef GPT_FRONTEND_GPTBUILDER_H
#define GPT_FRONTEND_GPTBUILDER_H

#include "schema/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace gpt {

struct FrontendOptions {
  /// `loss` takes a per-token weight tensor (chat fine-tuning trains only on
  /// assistant tokens). Without it, every token counts equally.
  bool weightedLoss = true;
  /// Emit @prefill / @decode (generation over a paged KV cache). On by
  /// default since the runtime executes them (gptc --no-generation: off).
  bool generation = true;
  /// Positions per block of the paged KV cache used by prefill/decode.
  int64_t kvBlockSize = 16;
};

/// Builds a module with four functions, batch and sequence dimensions
/// dynamic (prefill and decode share one body, see GPTBuilder.cpp):
///   func @forward(%tokens: tensor<?x?xi32>, params...) -> tensor<?x?xVxf32>
///   func @loss(%tokens, %targets: tensor<?x?xi32>,
///              [%weights: tensor<?x?xf32>,] params...) -> tensor<f32>
///   func @prefill / @decode(%tokens, %start: tensor<?xi32>,
///              %block_table: tensor<?xNBxi32>, params..., kv caches...)
///              -> (tensor<?xVxf32>, updated kv caches...)
/// Parameters are function arguments named by a `gpt.param` attribute (see
/// schema/Parameters.h), other inputs by `gpt.input`. Attention is
/// emitted decomposed (matmul, scale, causal mask, softmax, matmul) and every
/// bias add is a separate gpt.add: fusion is left to the passes.
/// The config must already be validated (parseModelConfig does this).
mlir::OwningOpRef<mlir::ModuleOp>
buildGPTModule(mlir::MLIRContext &context, const ModelConfig &config,
               const FrontendOptions &options = {});

} // namespace gpt

#endif
