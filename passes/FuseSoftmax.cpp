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
    ScaleMaskChain chain = matchScaleMaskChain(softmax.getInput());
    if (!chain.masked && !chain.scale)
      return rewriter.notifyMatchFailure(softmax, "nothing to fuse");
    // mask(scale*x) is what the fused op computes. scale(mask(x)) equals it
    // only for a positive factor (0 * -inf is NaN; a negative one flips -inf).
    if (chain.masked && chain.scale && !chain.scaleFeedsMask &&
        !(*chain.scale > 0.0f))
      return rewriter.notifyMatchFailure(softmax, "non-positive scale of mask");
    rewriter.replaceOpWithNewOp<ScaledMaskedSoftmaxOp>(
        softmax, softmax.getType(), chain.input,
        rewriter.getF32FloatAttr(chain.scale.value_or(1.0f)),
        chain.masked ? rewriter.getUnitAttr() : UnitAttr());
    return success();
  }
};

struct GPTFuseSoftmaxPass
    : mlir::gpt::impl::GPTFuseSoftmaxBase<GPTFuseSoftmaxPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateFuseSoftmaxPatterns(patterns);
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::gpt::populateFuseSoftmaxPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseSoftmaxPattern>(patterns.getContext());
}
