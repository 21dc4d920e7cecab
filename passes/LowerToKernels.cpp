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

using namespace mlir;
using namespace mlir::gpt;

namespace {
/// The kernel of `op` (docs/artifact.md) on both targets, or "" when there
/// is none.
StringRef kernelOf(Operation *op) {
  return TypeSwitch<Operation *, StringRef>(op)
      .Case([](EmbeddingOp) { return "embedding"; })
      .Case([](PositionEmbeddingOp) { return "position_embedding"; })
      .Case([](LayerNormOp) { return "layernorm"; })
      .Case([](LinearOp) { return "linear"; })
      .Case([](MatmulOp) { return "matmul"; })
      .Case([](SplitOp) { return "split"; })
      .Case([](ConcatOp) { return "concat"; })
      .Case([](TransposeOp) { return "transpose"; })
      .Case([](SoftmaxOp) { return "softmax"; })
      .Case([](SoftmaxGradOp) { return "softmax_grad"; })
      .Case([](ScaledMaskedSoftmaxOp) { return "scaled_masked_softmax"; })
      .Case<CausalMaskOp, CausalMaskGradOp>(
          [](Operation *) { return "causal_mask"; })
      .Case<AttentionOp, AttentionWithLseOp>(
          [](Operation *) { return "attention"; })
      .Case([](AttentionGradOp) { return "attention_grad"; })
      .Case([](CrossEntropyOp) { return "cross_entropy"; })
      .Case([](CrossEntropyGradOp) { return "cross_entropy_grad"; })
      .Case<FusionOp, AddOp, MulOp, ScaleOp, GeluOp, GeluGradOp>(
          [](Operation *) { return "elementwise"; })
      .Case([](SumLeadingOp) { return "sum_leading"; })
      .Case([](EmbeddingGradOp) { return "embedding_grad"; })
      .Case([](PositionEmbeddingGradOp) { return "position_embedding_grad"; })
      .Case([](LayerNormGradOp) { return "layernorm_grad"; })
      .Case([](LinearWeightGradOp) { return "linear_weight_grad"; })
      .Case<FillOp, ZerosLikeOp>([](Operation *) { return "fill"; })
      .Case([](arith::ConstantOp c) -> StringRef {
        auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
        return dense && dense.isSplat() ? "fill" : "";
      })
      .Case([](GlobalNormOp) { return "global_norm"; })
      .Case([](LrScheduleOp) { return "lr_schedule"; })
      .Case([](AdamWOp) { return "adamw"; })
      .Case([](ReshapeOp) { return "alias"; })
      .Case([](KVCacheWriteOp) { return "kv_cache_write"; })
      .Case([](PagedAttentionOp) { return "paged_attention"; })
      .Case([](TakeLastOp) { return "take_last"; })
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
