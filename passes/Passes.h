//===- Passes.h - passes over the gpt dialect -------------------*- C++ -*-===//
#ifndef GPT_PASSES_PASSES_H
#define GPT_PASSES_PASSES_H

#include "dialects/gpt/GPTDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace mlir::gpt {
#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

struct PipelineOptions {
  bool training = true; // add @loss_grad -> @train_grad, @apply_optimizer
  bool lower = true;    // kernel selection and memory planning
  std::string target = "cpu";
  bool reportMemory = false; // print each function's arena sizes
};

/// canonicalize, fuse attention, fuse softmax, [autodiff, optimizer], fuse
/// elementwise, canonicalize, cse, [lower to kernels, plan memory].
void buildPipeline(OpPassManager &pm, const PipelineOptions &options);

/// The default compilation pipeline used by gptc and registered in gpt-opt as
/// `gpt-default-pipeline`: canonicalize, fuse attention, fuse softmax, fuse
/// elementwise, canonicalize, cse.
void buildDefaultPipeline(OpPassManager &pm);
void registerDefaultPipeline();
} // namespace mlir::gpt

#endif
