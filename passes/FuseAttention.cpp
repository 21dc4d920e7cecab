//===- FuseAttention.cpp - decomposed attention -> gpt.attention ----------===//
//
// The pattern is rooted at the reshape that merges the heads back into
// [B, T, D] and walks up to the three head splits. Every step checks one
// property the fused op relies on; any mismatch leaves the graph untouched.
//
//===----------------------------------------------------------------------===//
#include "dialects/gpt/GPTOps.h"
#include "passes/Passes.h"
#include "passes/ScaleMatcher.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include <cmath>

namespace mlir::gpt {
#define GEN_PASS_DEF_GPTFUSEATTENTION
#include "passes/Passes.h.inc"
} // namespace mlir::gpt

using namespace mlir;
using namespace mlir::gpt;

namespace {
bool hasPermutation(TransposeOp op, ArrayRef<int64_t> perm) {
  return op && op.getPermutation() == perm;
}

/// Matches transpose(reshape(x : [B,T,D] -> [B,T,H,Dh]), perm) and returns x.
/// `perm` is [0,2,1,3] for Q and V ([B,H,T,Dh]) and [0,2,3,1] for a K that is
/// transposed while its heads are split ([B,H,Dh,T]).
Value matchSplitHeads(Value value, ArrayRef<int64_t> perm, int64_t &heads) {
  auto transpose = value.getDefiningOp<TransposeOp>();
  if (!hasPermutation(transpose, perm))
    return {};
  auto reshape = transpose.getInput().getDefiningOp<ReshapeOp>();
  if (!reshape)
    return {};
  auto in = cast<RankedTensorType>(reshape.getInput().getType());
  auto out = reshape.getType();
  if (in.getRank() != 3 || out.getRank() != 4 ||
      in.getShape().take_front(2) != out.getShape().take_front(2) ||
      ShapedType::isDynamic(out.getDimSize(2)) ||
      ShapedType::isDynamic(out.getDimSize(3)))
    return {};
  heads = out.getDimSize(2);
  return reshape.getInput();
}

/// K enters the score matmul either split normally with transpose_rhs set, or
/// split straight into [B,H,Dh,S] without it. Anything else is not q·kᵀ.
Value matchKey(MatmulOp scores, int64_t &heads) {
  if (scores.getTransposeRhs())
    return matchSplitHeads(scores.getRhs(), {0, 2, 1, 3}, heads);
  return matchSplitHeads(scores.getRhs(), {0, 2, 3, 1}, heads);
}

struct FuseAttentionPattern : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ReshapeOp merge,
                                PatternRewriter &rewriter) const override {
    // merge heads: transpose [B,H,T,Dh] -> [B,T,H,Dh], reshape -> [B,T,D]
    auto mergeTranspose = merge.getInput().getDefiningOp<TransposeOp>();
    if (!hasPermutation(mergeTranspose, {0, 2, 1, 3}) ||
        !mergeTranspose->hasOneUse() || merge.getType().getRank() != 3)
      return rewriter.notifyMatchFailure(merge, "not a head merge");
    auto context = mergeTranspose.getInput().getDefiningOp<MatmulOp>();
    if (!context || !context->hasOneUse() || context.getTransposeLhs() ||
        context.getTransposeRhs())
      return rewriter.notifyMatchFailure(merge, "no probs·V matmul");
    auto softmax = context.getLhs().getDefiningOp<SoftmaxOp>();
    auto probsType = cast<RankedTensorType>(context.getLhs().getType());
    if (!softmax || !softmax->hasOneUse() ||
        softmax.getNormalizedAxis() != probsType.getRank() - 1)
      return rewriter.notifyMatchFailure(merge, "no last-axis softmax");

    // Between the scores and the softmax: exactly one causal mask and one
    // constant scale, in either order, each used only by the next step.
    ScaleMaskChain chain = matchScaleMaskChain(softmax.getInput());
    if (!chain.masked || !chain.scale)
      return rewriter.notifyMatchFailure(merge, "no single-use scale + mask");
    std::optional<float> scale = chain.scale;
    auto scores = chain.input.getDefiningOp<MatmulOp>();
    if (!scores || !scores->hasOneUse() || scores.getTransposeLhs())
      return rewriter.notifyMatchFailure(merge, "no q·kᵀ matmul");

    int64_t qHeads = 0, kHeads = 0, vHeads = 0;
    Value query = matchSplitHeads(scores.getLhs(), {0, 2, 1, 3}, qHeads);
    Value key = matchKey(scores, kHeads);
    Value value = matchSplitHeads(context.getRhs(), {0, 2, 1, 3}, vHeads);
    if (!query || !key || !value || qHeads != kHeads || qHeads != vHeads)
      return rewriter.notifyMatchFailure(merge, "inputs are not head splits");

    auto queryType = cast<RankedTensorType>(query.getType());
    if (merge.getType().getShape() != queryType.getShape() ||
        ShapedType::isDynamic(queryType.getDimSize(2)))
      return rewriter.notifyMatchFailure(merge, "output is not [B, T, D]");
    int64_t headDim = queryType.getDimSize(2) / qHeads;
    float expected = 1.0f / std::sqrt(static_cast<float>(headDim));
    if (std::abs(*scale - expected) > 1e-5f * expected)
      return rewriter.notifyMatchFailure(merge, "scale is not 1/sqrt(Dh)");

    rewriter.replaceOpWithNewOp<AttentionOp>(
        merge, merge.getType(), query, key, value,
        rewriter.getI64IntegerAttr(qHeads), rewriter.getF32FloatAttr(*scale),
        rewriter.getUnitAttr());
    return success();
  }
};

struct GPTFuseAttentionPass
    : mlir::gpt::impl::GPTFuseAttentionBase<GPTFuseAttentionPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateFuseAttentionPatterns(patterns);
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::gpt::populateFuseAttentionPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseAttentionPattern>(patterns.getContext());
}
