//===- GPTGradients.cpp - reverse-mode gradient rules, one per op ---------===//
//
// Each rule receives the gradients of the op's results (null = zero) and
// emits the gradients of its operands. Rules only use dialect ops, so the
// backward graph is optimized (fused, planned, lowered) like the forward.
//
//===----------------------------------------------------------------------===//
#include "dialects/gpt/GPTOps.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::gpt;

namespace {
/// Reduces a broadcast gradient to the operand's (suffix) shape.
Value sumTo(OpBuilder &b, Location loc, Value grad, Type type) {
  if (grad.getType() == type)
    return grad;
  return b.create<SumLeadingOp>(loc, type, grad);
}

LogicalResult singleGrad(ArrayRef<Value> resultGrads, Value &dy) {
  dy = resultGrads.empty() ? Value() : resultGrads[0];
  return success();
}
} // namespace

LogicalResult EmbeddingOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                          SmallVectorImpl<Value> &out) {
  out.assign(2, Value());
  if (grads[0])
    out[0] = b.create<EmbeddingGradOp>(getLoc(), getTable().getType(), grads[0],
                                       getIds());
  return success();
}

LogicalResult PositionEmbeddingOp::buildGradients(OpBuilder &b,
                                                  ArrayRef<Value> grads,
                                                  SmallVectorImpl<Value> &out) {
  out.assign(getNumOperands(), Value());
  if (grads[0] && getStart())
    return emitOpError() << "with a start offset is not differentiable "
                            "(it only appears in inference functions)";
  if (grads[0])
    out[0] = b.create<PositionEmbeddingGradOp>(getLoc(), getTable().getType(),
                                               grads[0]);
  return success();
}

LogicalResult RopeOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                     SmallVectorImpl<Value> &out) {
  out.assign(getNumOperands(), Value());
  // A rotation's transpose is the opposite rotation; start is an index.
  if (grads[0])
    out[0] = b.create<RopeOp>(getLoc(), grads[0], getStart(), getHeadDim(),
                              getColumns(), getTheta().convertToFloat(),
                              !getInverse());
  return success();
}

LogicalResult LayerNormOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                          SmallVectorImpl<Value> &out) {
  out.assign(3, Value());
  if (!grads[0])
    return success();
  auto g = b.create<LayerNormGradOp>(
      getLoc(),
      TypeRange{getInput().getType(), getGamma().getType(),
                getBeta().getType()},
      grads[0], getInput(), getGamma(), getEpsilonAttr());
  out[0] = g.getInputGrad();
  out[1] = g.getGammaGrad();
  out[2] = g.getBetaGrad();
  return success();
}

LogicalResult MatmulOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                       SmallVectorImpl<Value> &out) {
  out.assign(2, Value());
  Value dc = grads[0];
  if (!dc)
    return success();
  Location loc = getLoc();
  bool tA = getTransposeLhs(), tB = getTransposeRhs();
  Value a = getLhs(), bm = getRhs();
  auto unit = [&](bool on) { return on ? b.getUnitAttr() : UnitAttr(); };
  // C = op(A) op(B):  d op(A) = dC op(B)^T,  d op(B) = op(A)^T dC.
  auto rhsType = cast<RankedTensorType>(bm.getType());
  auto lhsType = cast<RankedTensorType>(a.getType());
  if (!tA) {
    out[0] =
        b.create<MatmulOp>(loc, a.getType(), dc, bm, UnitAttr(), unit(!tB));
  } else if (rhsType.getRank() == lhsType.getRank()) {
    // dA = (dC op(B)^T)^T = op(B) dC^T
    out[0] =
        b.create<MatmulOp>(loc, a.getType(), bm, dc, unit(tB), b.getUnitAttr());
  } else {
    // A shared rank-2 rhs cannot be the lhs of a batched matmul: form
    // dC op(B)^T [..., M, K] and swap its last two axes.
    int64_t rank = lhsType.getRank();
    SmallVector<int64_t> perm;
    for (int64_t i = 0; i < rank; ++i)
      perm.push_back(i);
    std::swap(perm[rank - 2], perm[rank - 1]);
    Value dOpA = b.create<MatmulOp>(loc, dc, bm, false, !tB);
    out[0] = b.create<TransposeOp>(loc, a.getType(), dOpA,
                                   b.getDenseI64ArrayAttr(perm));
  }
  // A shared (rank-2) rhs gets its gradient summed over the batch.
  RankedTensorType batchedRhs = rhsType;
  if (rhsType.getRank() != lhsType.getRank()) {
    SmallVector<int64_t> shape(lhsType.getShape().drop_back(2));
    shape.append(rhsType.getShape().begin(), rhsType.getShape().end());
    batchedRhs = RankedTensorType::get(shape, rhsType.getElementType());
  }
  Value db =
      tB ? b.create<MatmulOp>(loc, batchedRhs, dc, a, b.getUnitAttr(), unit(tA))
         : b.create<MatmulOp>(loc, batchedRhs, a, dc, unit(!tA), UnitAttr());
  out[1] = sumTo(b, loc, db, rhsType);
  return success();
}

LogicalResult LinearOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                       SmallVectorImpl<Value> &out) {
  out.assign(getNumOperands(), Value());
  Value dy = grads[0];
  if (!dy)
    return success();
  Location loc = getLoc();
  bool t = getTransposeWeight();
  // x [..,K] W [K,N]: dx = dy W^T  (a linear with the other orientation).
  out[0] = b.create<LinearOp>(loc, getInput().getType(), dy, getWeight(),
                              Value(), t ? UnitAttr() : b.getUnitAttr());
  out[1] = b.create<LinearWeightGradOp>(loc, getWeight().getType(), getInput(),
                                        dy, getTransposeWeightAttr());
  if (getBias())
    out[2] = sumTo(b, loc, dy, getBias().getType());
  return success();
}

LogicalResult AddOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                    SmallVectorImpl<Value> &out) {
  out.assign(2, Value());
  if (!grads[0])
    return success();
  out[0] = grads[0];
  out[1] = sumTo(b, getLoc(), grads[0], getRhs().getType());
  return success();
}

LogicalResult MulOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                    SmallVectorImpl<Value> &out) {
  out.assign(2, Value());
  Value dy = grads[0];
  if (!dy)
    return success();
  out[0] = b.create<MulOp>(getLoc(), dy, getRhs());
  Value full = b.create<MulOp>(getLoc(), dy, getLhs());
  out[1] = sumTo(b, getLoc(), full, getRhs().getType());
  return success();
}

LogicalResult ScaleOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                      SmallVectorImpl<Value> &out) {
  out.assign(1, Value());
  if (grads[0])
    out[0] = b.create<ScaleOp>(getLoc(), grads[0], getFactorAttr());
  return success();
}

LogicalResult GeluOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                     SmallVectorImpl<Value> &out) {
  out.assign(1, Value());
  if (grads[0])
    out[0] = b.create<GeluGradOp>(getLoc(), grads[0], getInput());
  return success();
}

LogicalResult CausalMaskOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                           SmallVectorImpl<Value> &out) {
  out.assign(1, Value());
  if (grads[0])
    out[0] = b.create<CausalMaskGradOp>(getLoc(), grads[0]);
  return success();
}

LogicalResult SoftmaxOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                        SmallVectorImpl<Value> &out) {
  out.assign(1, Value());
  if (grads[0])
    out[0] =
        b.create<SoftmaxGradOp>(getLoc(), grads[0], getResult(), getAxisAttr());
  return success();
}

LogicalResult
ScaledMaskedSoftmaxOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                      SmallVectorImpl<Value> &out) {
  out.assign(1, Value());
  if (!grads[0])
    return success();
  // Masked entries have probability 0, so softmax_grad is already 0 there.
  auto rank = getType().getRank();
  Value d = b.create<SoftmaxGradOp>(getLoc(), grads[0], getResult(),
                                    b.getI64IntegerAttr(rank - 1));
  out[0] = b.create<ScaleOp>(getLoc(), d, getScaleAttr());
  return success();
}

static void attentionGrad(OpBuilder &b, Location loc, Value dout, Value q,
                          Value k, Value v, Value o, Value lse,
                          IntegerAttr heads, FloatAttr scale, UnitAttr causal,
                          SmallVectorImpl<Value> &out) {
  auto g = b.create<AttentionGradOp>(
      loc, TypeRange{q.getType(), k.getType(), v.getType()}, dout, q, k, v, o,
      lse, heads, scale, causal);
  out.assign({g.getQueryGrad(), g.getKeyGrad(), g.getValueGrad()});
}

LogicalResult AttentionWithLseOp::buildGradients(OpBuilder &b,
                                                 ArrayRef<Value> grads,
                                                 SmallVectorImpl<Value> &out) {
  out.assign(3, Value());
  if (!grads[0])
    return success(); // lse is an internal by-product: no gradient flows in
  attentionGrad(b, getLoc(), grads[0], getQuery(), getKey(), getValue(),
                getResult(), getLse(), getNumHeadsAttr(), getScaleAttr(),
                getCausalAttr(), out);
  return success();
}

LogicalResult AttentionOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                          SmallVectorImpl<Value> &out) {
  out.assign(3, Value());
  if (!grads[0])
    return success();
  // Without a saved lse, recompute the forward once (autodiff normally
  // rewrites gpt.attention into gpt.attention_with_lse first).
  auto fwd = b.create<AttentionWithLseOp>(getLoc(), getQuery(), getKey(),
                                          getValue(), getNumHeadsAttr(),
                                          getScaleAttr(), getCausalAttr());
  attentionGrad(b, getLoc(), grads[0], getQuery(), getKey(), getValue(),
                fwd.getResult(), fwd.getLse(), getNumHeadsAttr(),
                getScaleAttr(), getCausalAttr(), out);
  return success();
}

LogicalResult ReshapeOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                        SmallVectorImpl<Value> &out) {
  out.assign(1, Value());
  if (grads[0])
    out[0] = b.create<ReshapeOp>(getLoc(), getInput().getType(), grads[0]);
  return success();
}

LogicalResult TransposeOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                          SmallVectorImpl<Value> &out) {
  out.assign(1, Value());
  if (!grads[0])
    return success();
  ArrayRef<int64_t> perm = getPermutation();
  SmallVector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    inverse[perm[i]] = i;
  out[0] = b.create<TransposeOp>(getLoc(), getInput().getType(), grads[0],
                                 b.getDenseI64ArrayAttr(inverse));
  return success();
}

LogicalResult SplitOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                      SmallVectorImpl<Value> &out) {
  out.assign(1, Value());
  if (llvm::all_of(grads, [](Value g) { return !g; }))
    return success();
  SmallVector<Value> parts;
  for (auto [grad, result] : llvm::zip(grads, getResults()))
    parts.push_back(grad ? grad : b.create<ZerosLikeOp>(getLoc(), result));
  out[0] =
      b.create<ConcatOp>(getLoc(), getInput().getType(), parts, getAxisAttr());
  return success();
}

LogicalResult CrossEntropyOp::buildGradients(OpBuilder &b,
                                             ArrayRef<Value> grads,
                                             SmallVectorImpl<Value> &out) {
  out.assign(getNumOperands(), Value());
  if (grads[0])
    out[0] =
        b.create<CrossEntropyGradOp>(getLoc(), getLogits().getType(), grads[0],
                                     getLogits(), getTargets(), getWeights());
  return success();
}

LogicalResult AllReduceOp::buildGradients(OpBuilder &b, ArrayRef<Value> grads,
                                          SmallVectorImpl<Value> &out) {
  // Result i depends on operand i of every rank, each with weight 1 (sum)
  // or 1/N (mean): the adjoint is the same reduction of the result
  // gradients. A zero (null) gradient still takes part, so that every rank
  // passes the same bucket.
  out.assign(getNumOperands(), Value());
  if (llvm::all_of(grads, [](Value g) { return !g; }))
    return success();
  SmallVector<Value> dys;
  for (auto [g, input] : llvm::zip(grads, getInputs()))
    dys.push_back(g ? g : b.create<ZerosLikeOp>(getLoc(), input).getResult());
  auto reduced =
      b.create<AllReduceOp>(getLoc(), dys, getReduction(), getGroup());
  for (unsigned i = 0; i < getNumOperands(); ++i)
    out[i] = reduced.getResult(i);
  return success();
}
