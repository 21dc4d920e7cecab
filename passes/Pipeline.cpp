//===- Pipeline.cpp - the gpt compilation pipelines -----------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

StringRef gpt::targetName(CompileTarget target) {
  return target == CompileTarget::Vulkan ? "vulkan" : "cpu";
}

void gpt::buildPipeline(OpPassManager &pm, const PipelineOptions &options) {
  pm.addPass(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createGPTFuseAttention());
  pm.addNestedPass<func::FuncOp>(createGPTFuseSoftmax());
  if (options.training) {
    // These two create functions: they run on the module.
    pm.addPass(createGPTAutodiff());
    GPTOptimizerOptions optimizer;
    // A data-parallel artifact can also shard its optimizer state.
    optimizer.shardable = options.dataParallelBucketBytes > 0;
    pm.addPass(createGPTOptimizer(optimizer));
  }
  pm.addNestedPass<func::FuncOp>(createGPTFuseElementwise());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.lower) {
    // After autodiff (which differentiates the unpacked form) and CSE (so
    // q, k, v of forward and backward are the same split).
    pm.addNestedPass<func::FuncOp>(createGPTPackAttention());
    if (options.training && options.dataParallelBucketBytes > 0) {
      GPTDataParallelOptions dp;
      dp.bucketBytes = options.dataParallelBucketBytes;
      pm.addNestedPass<func::FuncOp>(createGPTDataParallel(dp));
    }
    GPTLowerToKernelsOptions lower;
    lower.target = options.target;
    pm.addNestedPass<func::FuncOp>(createGPTLowerToKernels(lower));
    pm.addNestedPass<func::FuncOp>(createGPTPlanMemory());
  }
}

void gpt::buildDefaultPipeline(OpPassManager &pm) {
  PipelineOptions options;
  options.training = false;
  options.lower = false;
  buildPipeline(pm, options);
}

void gpt::registerDefaultPipeline() {
  PassPipelineRegistration<>(
      "gpt-default-pipeline",
      "Inference fusion pipeline: canonicalize, fuse attention, fuse "
      "softmax, fuse elementwise, canonicalize, cse",
      [](OpPassManager &pm) { buildDefaultPipeline(pm); });
  PassPipelineRegistration<TrainingPipelineOptions>(
      "gpt-training-pipeline",
      "What gptc --emit=artifact runs: fusion, autodiff, optimizer, "
      "elementwise fusion, kernel selection and memory planning",
      [](OpPassManager &pm, const TrainingPipelineOptions &cl) {
        PipelineOptions options;
        options.training = cl.training;
        options.lower = cl.lower;
        options.target = cl.target;
        options.dataParallelBucketBytes = cl.dataParallelBucketBytes;
        buildPipeline(pm, options);
      });
}
