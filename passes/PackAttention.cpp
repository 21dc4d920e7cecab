//===- PackAttention.cpp - attention on the packed QKV projection ---------===//
//
// The frontend computes q, k and v with one linear layer and splits its
// [B, T, 3D] output on the last axis. Attention kernels read heads at a row
// stride, so they can take that output as is: this pass rewrites
//   split(x) -> attention / attention_with_lse(q, k, v)
// into attention_qkv(x), and
//   attention_grad(dout, q, k, v, out, lse) -> concat(dq, dk, dv)
// into attention_qkv_grad(dout, x, out, lse). The split (when nothing else
// reads it) and the concat disappear, and so do the kernels' repack copies.
//
//===----------------------------------------------------------------------===//
#include "dialects/gpt/GPTOps.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::gpt {
#define GEN_PASS_DEF_GPTPACKATTENTION
#include "passes/Passes.h.inc"
} // namespace mlir::gpt

using namespace mlir;
using namespace mlir::gpt;

namespace {
/// The tensor whose last-axis thirds are q, k and v, in that order, or null.
Value packedSource(Value q, Value k, Value v) {
  auto split = q.getDefiningOp<SplitOp>();
  if (!split || split.getNumResults() != 3 || split.getResult(0) != q ||
      split.getResult(1) != k || split.getResult(2) != v)
    return {};
  auto in = cast<RankedTensorType>(split.getInput().getType());
  if (static_cast<int64_t>(split.getAxis()) != in.getRank() - 1)
    return {};
  return split.getInput();
}

/// attention or attention_with_lse on split parts -> attention_qkv.
template <typename AttentionT>
struct PackForward : OpRewritePattern<AttentionT> {
  using OpRewritePattern<AttentionT>::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionT op,
                                PatternRewriter &rewriter) const override {
    Value qkv = packedSource(op.getQuery(), op.getKey(), op.getValue());
    if (!qkv)
      return rewriter.notifyMatchFailure(op, "q, k, v are not one split");
    auto packed =
        rewriter.create<AttentionQkvOp>(op.getLoc(), qkv, op.getNumHeadsAttr(),
                                        op.getScaleAttr(), op.getCausalAttr());
    SmallVector<Value> results = {packed.getResult()};
    if (op->getNumResults() == 2)
      results.push_back(packed.getLse());
    rewriter.replaceOp(op, results);
    return success();
  }
};

/// concat(attention_grad(...) on split parts) -> attention_qkv_grad.
struct PackBackward : OpRewritePattern<ConcatOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConcatOp concat,
                                PatternRewriter &rewriter) const override {
    auto inputs = concat.getInputs();
    auto grad = inputs.empty() ? AttentionGradOp()
                               : inputs[0].getDefiningOp<AttentionGradOp>();
    auto type = cast<RankedTensorType>(concat.getType());
    if (!grad || inputs.size() != 3 ||
        static_cast<int64_t>(concat.getAxis()) != type.getRank() - 1 ||
        inputs[0] != grad.getQueryGrad() || inputs[1] != grad.getKeyGrad() ||
        inputs[2] != grad.getValueGrad())
      return rewriter.notifyMatchFailure(concat, "not dq, dk, dv in order");
    for (Value g : grad->getResults())
      if (!g.hasOneUse())
        return rewriter.notifyMatchFailure(concat, "a gradient has other uses");
    Value qkv = packedSource(grad.getQuery(), grad.getKey(), grad.getValue());
    if (!qkv || qkv.getType() != concat.getType())
      return rewriter.notifyMatchFailure(concat, "q, k, v are not one split");
    rewriter.replaceOpWithNewOp<AttentionQkvGradOp>(
        concat, concat.getType(), grad.getResultGrad(), qkv, grad.getResult(),
        grad.getLse(), grad.getNumHeadsAttr(), grad.getScaleAttr(),
        grad.getCausalAttr());
    rewriter.eraseOp(grad);
    return success();
  }
};

struct GPTPackAttentionPass
    : mlir::gpt::impl::GPTPackAttentionBase<GPTPackAttentionPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populatePackAttentionPatterns(patterns);
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::gpt::populatePackAttentionPatterns(RewritePatternSet &patterns) {
  patterns.add<PackForward<AttentionOp>, PackForward<AttentionWithLseOp>,
               PackBackward>(patterns.getContext());
}
