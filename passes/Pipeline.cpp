//===- Pipeline.cpp - the gpt compilation pipelines -----------------------===//
#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void gpt::buildPipeline(OpPassManager &pm, const PipelineOptions &options) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createGPTFuseAttention());
  pm.addPass(createGPTFuseSoftmax());
  if (options.training) {
    pm.addPass(createGPTAutodiff());
    pm.addPass(createGPTOptimizer());
  }
  pm.addPass(createGPTFuseElementwise());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.lower) {
    GPTLowerToKernelsOptions lower;
    lower.target = options.target;
    pm.addPass(createGPTLowerToKernels(lower));
    GPTPlanMemoryOptions plan;
    plan.report = options.reportMemory;
    pm.addPass(createGPTPlanMemory(plan));
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
  PassPipelineRegistration<>(
      "gpt-training-pipeline",
      "What gptc --emit=artifact runs: fusion, autodiff, optimizer, "
      "elementwise fusion, kernel selection (cpu) and memory planning",
      [](OpPassManager &pm) { buildPipeline(pm, PipelineOptions{}); });
}
