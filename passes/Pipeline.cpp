//===- Pipeline.cpp - the default gpt compilation pipeline ----------------===//
#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void gpt::buildDefaultPipeline(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createGPTFuseAttention());
  pm.addPass(createGPTFuseSoftmax());
  pm.addPass(createGPTFuseElementwise());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void gpt::registerDefaultPipeline() {
  PassPipelineRegistration<>(
      "gpt-default-pipeline",
      "The pipeline gptc runs: canonicalize, fuse attention, fuse softmax, "
      "fuse elementwise, canonicalize, cse",
      [](OpPassManager &pm) { buildDefaultPipeline(pm); });
}
