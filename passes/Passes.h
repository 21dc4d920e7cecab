//===- Passes.h - passes over the gpt dialect -------------------*- C++ -*-===//
#ifndef GPT_PASSES_PASSES_H
#define GPT_PASSES_PASSES_H

#include "dialects/gpt/GPTDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <string>

namespace mlir::gpt {
/// What --gpt-lower-to-kernels selects kernels for (and gpt.target holds).
enum class CompileTarget { Cpu, Vulkan };
StringRef targetName(CompileTarget target);

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// The rewrite patterns of --gpt-fuse-attention and --gpt-fuse-softmax, for
/// drivers that combine them with their own patterns.
void populateFuseAttentionPatterns(RewritePatternSet &patterns);
void populateFuseSoftmaxPatterns(RewritePatternSet &patterns);
/// The patterns of --gpt-pack-attention.
void populatePackAttentionPatterns(RewritePatternSet &patterns);

struct PipelineOptions {
  bool training = true; // add @loss_grad -> @train_grad, @apply_optimizer
  bool lower = true;    // kernel selection and memory planning
  CompileTarget target = CompileTarget::Cpu;
  /// --gpt-data-parallel on @train_grad with this bucket size; 0: off.
  int64_t dataParallelBucketBytes = 0;
};

/// `gpt-training-pipeline` options on the gpt-opt command line.
struct TrainingPipelineOptions
    : public PassPipelineOptions<TrainingPipelineOptions> {
  Option<bool> training{*this, "training",
                        llvm::cl::desc("Build @train_grad and "
                                       "@apply_optimizer from @loss_grad"),
                        llvm::cl::init(true)};
  Option<bool> lower{*this, "lower",
                     llvm::cl::desc("Select kernels and plan memory"),
                     llvm::cl::init(true)};
  Option<CompileTarget> target{
      *this, "target", llvm::cl::desc("Kernel target"),
      llvm::cl::init(CompileTarget::Cpu),
      llvm::cl::values(clEnumValN(CompileTarget::Cpu, "cpu", "CPU kernels"),
                       clEnumValN(CompileTarget::Vulkan, "vulkan",
                                  "Vulkan compute shaders"))};
  Option<int64_t> dataParallelBucketBytes{
      *this, "data-parallel-bucket-bytes",
      llvm::cl::desc("Average @train_grad's gradients over the ranks in "
                     "buckets of this many bytes (0: single process)"),
      llvm::cl::init(0)};
};

/// canonicalize, fuse attention, fuse softmax, [autodiff, optimizer], fuse
/// elementwise, canonicalize, cse, [pack attention, data parallel, lower to
/// kernels, plan memory].
void buildPipeline(OpPassManager &pm, const PipelineOptions &options);

/// The default compilation pipeline used by gptc and registered in gpt-opt as
/// `gpt-default-pipeline`: canonicalize, fuse attention, fuse softmax, fuse
/// elementwise, canonicalize, cse.
void buildDefaultPipeline(OpPassManager &pm);
void registerDefaultPipeline();
} // namespace mlir::gpt

#endif
