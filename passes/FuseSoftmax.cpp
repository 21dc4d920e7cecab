//===- FuseSoftmax.cpp - scale/mask chains -> gpt.scaled_masked_softmax ---===//
#include "dialects/gpt/GPTOps.h"
#include "passes/Passes.h"
#include "passes/ScaleMatcher.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::gpt {
#define GEN_PASS_DEF_GPTFUSESOFTMAX
#include "passes/Passes.h.inc"
} // namespace mlir::gpt

using namespace mlir;
using namespace mlir::gpt;

namespace {
struct FuseSoftmaxPattern : OpRewritePattern<SoftmaxOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SoftmaxOp softmax,
                                PatternRewriter &rewriter) const override {
    if (softmax.getNormalizedAxis() != softmax.getType().getRank() - 1)
      return rewriter.notifyMatchFailure(softmax, "softmax not on last axis");
    Value cursor = softmax.getInput();
    bool masked = false, scaleFeedsMask = false;
    std::optional<float> scale;
    for (int step = 0; step < 2; ++step) {
      Operation *def = cursor.getDefiningOp();
      if (!def || !def->hasOneUse())
        break;
      if (auto mask = dyn_cast<CausalMaskOp>(def); mask && !masked) {
        masked = true;
        cursor = mask.getInput();
        continue;
      }
      Value scaled;
      if (auto factor = matchConstantScale(def, scaled); factor && !scale) {
        scale = factor;
        // Walking upwards: a mask already seen lies below, i.e. mask(scale(x)).
        scaleFeedsMask = masked;
        cursor = scaled;
        continue;
      }
      break;
    }
    if (!masked && !scale)
      return rewriter.notifyMatchFailure(softmax, "nothing to fuse");
    // mask(scale*x) is what the fused op computes. scale(mask(x)) equals it
    // only for a positive factor (0 * -inf is NaN; a negative one flips -inf).
    if (masked && scale && !scaleFeedsMask && !(*scale > 0.0f))
      return rewriter.notifyMatchFailure(softmax, "non-positive scale of mask");
    rewriter.replaceOpWithNewOp<ScaledMaskedSoftmaxOp>(
        softmax, softmax.getType(), cursor,
        rewriter.getF32FloatAttr(scale.value_or(1.0f)),
        masked ? rewriter.getUnitAttr() : UnitAttr());
    return success();
  }
};

struct GPTFuseSoftmaxPass
    : mlir::gpt::impl::GPTFuseSoftmaxBase<GPTFuseSoftmaxPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseSoftmaxPattern>(&getContext());
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
