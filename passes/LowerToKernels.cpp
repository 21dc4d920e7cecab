//===- LowerToKernels.cpp - choose the runtime kernel of each op ----------===//
#include "dialects/gpt/GPTAttributes.h"
#include "dialects/gpt/GPTOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::gpt {
#define GEN_PASS_DEF_GPTLOWERTOKERNELS
#include "passes/Passes.h.inc"
} // namespace mlir::gpt

#include "schema/KernelRegistry.h"

using namespace mlir;
using namespace mlir::gpt;

namespace {
using ::gpt::KernelId;

/// The kernel of `op` (docs/artifact.md) on both targets, if it has one.
/// Kernels are the registry's (schema/Kernels.def).
std::optional<KernelId> kernelOf(Operation *op) {
  using K = std::optional<KernelId>;
  return TypeSwitch<Operation *, K>(op)
      .Case([](EmbeddingOp) { return K(KernelId::Embedding); })
      .Case([](PositionEmbeddingOp) { return K(KernelId::PositionEmbedding); })
      .Case([](RopeOp) { return K(KernelId::Rope); })
      .Case([](LayerNormOp) { return K(KernelId::Layernorm); })
      .Case([](LinearOp) { return K(KernelId::Linear); })
      .Case([](MatmulOp) { return K(KernelId::Matmul); })
      .Case([](SplitOp) { return K(KernelId::Split); })
      .Case([](ConcatOp) { return K(KernelId::Concat); })
      .Case([](TransposeOp) { return K(KernelId::Transpose); })
      .Case([](SoftmaxOp) { return K(KernelId::Softmax); })
      .Case([](SoftmaxGradOp) { return K(KernelId::SoftmaxGrad); })
      .Case([](ScaledMaskedSoftmaxOp) {
        return K(KernelId::ScaledMaskedSoftmax);
      })
      .Case<CausalMaskOp, CausalMaskGradOp>(
          [](Operation *) -> K { return K(KernelId::CausalMask); })
      .Case<AttentionOp, AttentionWithLseOp>(
          [](Operation *) -> K { return K(KernelId::Attention); })
      .Case([](AttentionGradOp) { return K(KernelId::AttentionGrad); })
      .Case([](AttentionQkvOp) { return K(KernelId::AttentionQkv); })
      .Case([](AttentionQkvGradOp) { return K(KernelId::AttentionQkvGrad); })
      .Case([](CrossEntropyOp) { return K(KernelId::CrossEntropy); })
      .Case([](CrossEntropyGradOp) { return K(KernelId::CrossEntropyGrad); })
      .Case<FusionOp, AddOp, MulOp, ScaleOp, GeluOp, GeluGradOp>(
          [](Operation *) -> K { return K(KernelId::Elementwise); })
      .Case([](SumLeadingOp) { return K(KernelId::SumLeading); })
      .Case([](EmbeddingGradOp) { return K(KernelId::EmbeddingGrad); })
      .Case([](PositionEmbeddingGradOp) {
        return K(KernelId::PositionEmbeddingGrad);
      })
      .Case([](LayerNormGradOp) { return K(KernelId::LayernormGrad); })
      .Case([](LinearWeightGradOp) { return K(KernelId::LinearWeightGrad); })
      .Case<FillOp, ZerosLikeOp>(
          [](Operation *) -> K { return K(KernelId::Fill); })
      .Case([](arith::ConstantOp c) -> K {
        auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
        return dense && dense.isSplat() ? K(KernelId::Fill) : std::nullopt;
      })
      .Case([](GlobalNormOp) { return K(KernelId::GlobalNorm); })
      .Case([](LrScheduleOp) { return K(KernelId::LrSchedule); })
      .Case([](AdamWOp) { return K(KernelId::Adamw); })
      .Case([](AllReduceOp) { return K(KernelId::AllReduce); })
      .Case([](ReshapeOp) { return K(KernelId::Alias); })
      .Case([](KVCacheWriteOp) { return K(KernelId::KvCacheWrite); })
      .Case([](PagedAttentionOp) { return K(KernelId::PagedAttention); })
      .Case([](TakeLastOp) { return K(KernelId::TakeLast); })
      .Default([](Operation *) -> K { return std::nullopt; });
}

struct GPTLowerToKernelsPass
    : mlir::gpt::impl::GPTLowerToKernelsBase<GPTLowerToKernelsPass> {
  using GPTLowerToKernelsBase::GPTLowerToKernelsBase;
  void runOnOperation() override {
    // Vulkan has a shader for every CPU kernel (runtime/vulkan/kernels), so
    // both targets select the same kernels; the emitter adds the generated
    // shaders of `elementwise` programs for Vulkan.
    for (Operation &op :
         getOperation().getBody().front().without_terminator()) {
      std::optional<KernelId> kernel = kernelOf(&op);
      if (!kernel) {
        op.emitOpError() << "has no kernel on target '" << targetName(target)
                         << "'";
        return signalPassFailure();
      }
      setKernel(&op, *kernel);
    }
  }
};
} // namespace
