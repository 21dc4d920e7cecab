//===- LowerToKernels.cpp - choose the runtime kernel of each op ----------===//
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

#include "runtime/model/KernelRegistry.h"

using namespace mlir;
using namespace mlir::gpt;

namespace {
/// A registry kernel's name.
StringRef k(::gpt::KernelId id) { return ::gpt::kernelName(id); }

/// The kernel of `op` (docs/artifact.md) on both targets, or "" when there
/// is none. Names come from the registry (runtime/model/Kernels.def).
StringRef kernelOf(Operation *op) {
  using ::gpt::KernelId;
  return TypeSwitch<Operation *, StringRef>(op)
      .Case([](EmbeddingOp) { return k(KernelId::Embedding); })
      .Case([](PositionEmbeddingOp) { return k(KernelId::PositionEmbedding); })
      .Case([](LayerNormOp) { return k(KernelId::Layernorm); })
      .Case([](LinearOp) { return k(KernelId::Linear); })
      .Case([](MatmulOp) { return k(KernelId::Matmul); })
      .Case([](SplitOp) { return k(KernelId::Split); })
      .Case([](ConcatOp) { return k(KernelId::Concat); })
      .Case([](TransposeOp) { return k(KernelId::Transpose); })
      .Case([](SoftmaxOp) { return k(KernelId::Softmax); })
      .Case([](SoftmaxGradOp) { return k(KernelId::SoftmaxGrad); })
      .Case([](ScaledMaskedSoftmaxOp) {
        return k(KernelId::ScaledMaskedSoftmax);
      })
      .Case<CausalMaskOp, CausalMaskGradOp>(
          [](Operation *) { return k(KernelId::CausalMask); })
      .Case<AttentionOp, AttentionWithLseOp>(
          [](Operation *) { return k(KernelId::Attention); })
      .Case([](AttentionGradOp) { return k(KernelId::AttentionGrad); })
      .Case([](CrossEntropyOp) { return k(KernelId::CrossEntropy); })
      .Case([](CrossEntropyGradOp) { return k(KernelId::CrossEntropyGrad); })
      .Case<FusionOp, AddOp, MulOp, ScaleOp, GeluOp, GeluGradOp>(
          [](Operation *) { return k(KernelId::Elementwise); })
      .Case([](SumLeadingOp) { return k(KernelId::SumLeading); })
      .Case([](EmbeddingGradOp) { return k(KernelId::EmbeddingGrad); })
      .Case([](PositionEmbeddingGradOp) {
        return k(KernelId::PositionEmbeddingGrad);
      })
      .Case([](LayerNormGradOp) { return k(KernelId::LayernormGrad); })
      .Case([](LinearWeightGradOp) { return k(KernelId::LinearWeightGrad); })
      .Case<FillOp, ZerosLikeOp>([](Operation *) { return k(KernelId::Fill); })
      .Case([](arith::ConstantOp c) -> StringRef {
        auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
        return dense && dense.isSplat() ? k(KernelId::Fill) : StringRef();
      })
      .Case([](GlobalNormOp) { return k(KernelId::GlobalNorm); })
      .Case([](LrScheduleOp) { return k(KernelId::LrSchedule); })
      .Case([](AdamWOp) { return k(KernelId::Adamw); })
      .Case([](ReshapeOp) { return k(KernelId::Alias); })
      .Case([](KVCacheWriteOp) { return k(KernelId::KvCacheWrite); })
      .Case([](PagedAttentionOp) { return k(KernelId::PagedAttention); })
      .Case([](TakeLastOp) { return k(KernelId::TakeLast); })
      .Default([](Operation *) { return ""; });
}

struct GPTLowerToKernelsPass
    : mlir::gpt::impl::GPTLowerToKernelsBase<GPTLowerToKernelsPass> {
  using GPTLowerToKernelsBase::GPTLowerToKernelsBase;
  void runOnOperation() override {
    // Vulkan has a shader for every CPU kernel (runtime/vulkan/kernels), so
    // both targets select the same kernels; the emitter adds the generated
    // shaders of `elementwise` programs for Vulkan.
    if (target != "cpu" && target != "vulkan") {
      getOperation().emitError() << "--gpt-lower-to-kernels: unknown target '"
                                 << target << "' (cpu or vulkan)";
      return signalPassFailure();
    }
    for (auto fn : getOperation().getOps<func::FuncOp>())
      for (Operation &op : fn.getBody().front().without_terminator()) {
        StringRef kernel = kernelOf(&op);
        if (kernel.empty()) {
          op.emitOpError() << "has no kernel on target '" << target << "'";
          return signalPassFailure();
        }
        op.setAttr("gpt.kernel", StringAttr::get(&getContext(), kernel));
      }
  }
};
} // namespace
