//===- GPTOps.cpp - verifiers of the gpt dialect --------------------------===//
//
// Every verifier names the operand at fault and prints the shapes involved,
// so that a frontend bug shows up as a readable diagnostic, not a crash in a
// later pass.
//
//===----------------------------------------------------------------------===//
#include "dialects/gpt/GPTOps.h"
#include "dialects/gpt/ShapeUtils.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"

#include <cmath>

using namespace mlir;
using namespace mlir::gpt;

namespace {
RankedTensorType ranked(Value v) { return cast<RankedTensorType>(v.getType()); }

LogicalResult sameElementType(Operation *op, Value a, StringRef aName, Value b,
                              StringRef bName) {
  Type ea = ranked(a).getElementType(), eb = ranked(b).getElementType();
  if (ea == eb)
    return success();
  return op->emitOpError() << aName << " and " << bName
                           << " must have the same element type, got " << ea
                           << " and " << eb;
}

/// Checks that `got` matches the expected dims (with `?` compatible).
LogicalResult expectShape(Operation *op, StringRef what, RankedTensorType got,
                          ArrayRef<int64_t> expected) {
  if (shapesCompatible(got.getShape(), expected))
    return success();
  return op->emitOpError() << what << " has shape "
                           << formatShape(got.getShape()) << ", expected "
                           << formatShape(expected);
}
} // namespace

bool mlir::gpt::isElementwise(Operation *op) {
  return isa<AddOp, MulOp, ScaleOp, GeluOp>(op);
}

bool mlir::gpt::isFusible(Operation *op) {
  return isElementwise(op) || isa<LayerNormOp>(op);
}

//===----------------------------------------------------------------------===//
// Embeddings
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  auto table = ranked(getTable()), ids = ranked(getIds());
  if (table.getRank() != 2)
    return emitOpError() << "table must be rank 2 [vocab, dim], got rank "
                         << table.getRank();
  SmallVector<int64_t> expected(ids.getShape());
  expected.push_back(table.getDimSize(1));
  if (failed(expectShape(*this, "result", ranked(getResult()), expected)))
    return failure();
  return sameElementType(*this, getTable(), "table", getResult(), "result");
}

/// An optional per-sequence start position: [batch] when present.
static LogicalResult verifyStart(Operation *op, Value start, int64_t batch) {
  if (!start)
    return success();
  auto type = cast<RankedTensorType>(start.getType());
  if (type.getRank() != 1 || !dimsCompatible(type.getDimSize(0), batch))
    return op->emitOpError()
           << "start must be [batch], got " << formatShape(type.getShape());
  return success();
}

LogicalResult PositionEmbeddingOp::verify() {
  auto table = ranked(getTable()), ids = ranked(getIds());
  if (table.getRank() != 2)
    return emitOpError() << "table must be rank 2 [context, dim], got rank "
                         << table.getRank();
  if (ids.getRank() != 2)
    return emitOpError() << "ids must be rank 2 [batch, seq], got rank "
                         << ids.getRank();
  if (failed(verifyStart(*this, getStart(), ids.getDimSize(0))))
    return failure();
  int64_t seq = ids.getDimSize(1), context = table.getDimSize(0);
  if (!ShapedType::isDynamic(seq) && !ShapedType::isDynamic(context) &&
      seq > context)
    return emitOpError() << "sequence length " << seq
                         << " exceeds the table's context length " << context;
  if (failed(expectShape(*this, "result", ranked(getResult()),
                         {ids.getDimSize(0), seq, table.getDimSize(1)})))
    return failure();
  return sameElementType(*this, getTable(), "table", getResult(), "result");
}

LogicalResult RopeOp::verify() {
  auto input = ranked(getInput());
  if (input.getRank() != 3)
    return emitOpError() << "input must be rank 3 [batch, seq, dim], got rank "
                         << input.getRank();
  int64_t headDim = getHeadDim(), columns = getColumns();
  if (headDim <= 0 || headDim % 2 != 0)
    return emitOpError() << "head_dim must be even and > 0, got " << headDim;
  if (columns <= 0 || columns % headDim != 0)
    return emitOpError() << "columns (" << columns
                         << ") must be a positive multiple of head_dim ("
                         << headDim << ")";
  int64_t dim = input.getDimSize(2);
  if (ShapedType::isDynamic(dim) || columns > dim)
    return emitOpError() << "columns (" << columns
                         << ") must not exceed the static last dim, got "
                         << formatShape(input.getShape());
  if (!(getTheta().convertToFloat() > 1.0f) ||
      !std::isfinite(getTheta().convertToFloat()))
    return emitOpError() << "theta must be a finite number > 1";
  if (failed(verifyStart(*this, getStart(), input.getDimSize(0))))
    return failure();
  if (failed(
          expectShape(*this, "result", ranked(getResult()), input.getShape())))
    return failure();
  return sameElementType(*this, getInput(), "input", getResult(), "result");
}

//===----------------------------------------------------------------------===//
// Normalization and linear algebra
//===----------------------------------------------------------------------===//

LogicalResult LayerNormOp::verify() {
  auto input = ranked(getInput());
  if (input.getRank() < 1)
    return emitOpError() << "input must have rank >= 1";
  int64_t dim = input.getShape().back();
  if (failed(expectShape(*this, "gamma", ranked(getGamma()), {dim})) ||
      failed(expectShape(*this, "beta", ranked(getBeta()), {dim})) ||
      failed(
          expectShape(*this, "result", ranked(getResult()), input.getShape())))
    return failure();
  if (getEpsilon().convertToFloat() <= 0.0f)
    return emitOpError() << "epsilon must be > 0, got "
                         << getEpsilon().convertToFloat();
  if (failed(
          sameElementType(*this, getInput(), "input", getGamma(), "gamma")) ||
      failed(sameElementType(*this, getInput(), "input", getBeta(), "beta")))
    return failure();
  return sameElementType(*this, getInput(), "input", getResult(), "result");
}

LogicalResult MatmulOp::verify() {
  auto lhs = ranked(getLhs()), rhs = ranked(getRhs());
  if (lhs.getRank() < 2 || rhs.getRank() < 2)
    return emitOpError() << "operands must have rank >= 2, got ranks "
                         << lhs.getRank() << " and " << rhs.getRank();
  if (rhs.getRank() != lhs.getRank() && rhs.getRank() != 2)
    return emitOpError() << "rhs must have the rank of lhs (" << lhs.getRank()
                         << ") or rank 2, got rank " << rhs.getRank();
  ArrayRef<int64_t> l = lhs.getShape(), r = rhs.getShape();
  size_t lr = l.size(), rr = r.size();
  int64_t m = getTransposeLhs() ? l[lr - 1] : l[lr - 2];
  int64_t kl = getTransposeLhs() ? l[lr - 2] : l[lr - 1];
  int64_t kr = getTransposeRhs() ? r[rr - 1] : r[rr - 2];
  int64_t n = getTransposeRhs() ? r[rr - 2] : r[rr - 1];
  if (!dimsCompatible(kl, kr))
    return emitOpError() << "contraction dimensions differ: lhs "
                         << formatShape(l) << " gives K = " << formatDim(kl)
                         << ", rhs " << formatShape(r)
                         << " gives K = " << formatDim(kr);
  if (rr == lr && !shapesCompatible(l.drop_back(2), r.drop_back(2)))
    return emitOpError() << "batch dimensions differ: " << formatShape(l)
                         << " vs " << formatShape(r);
  SmallVector<int64_t> expected(l.drop_back(2));
  expected.append({m, n});
  if (failed(expectShape(*this, "result", ranked(getResult()), expected)))
    return failure();
  if (failed(sameElementType(*this, getLhs(), "lhs", getRhs(), "rhs")))
    return failure();
  return sameElementType(*this, getLhs(), "lhs", getResult(), "result");
}

LogicalResult LinearOp::verify() {
  auto input = ranked(getInput()), weight = ranked(getWeight());
  if (input.getRank() < 1)
    return emitOpError() << "input must have rank >= 1";
  if (weight.getRank() != 2)
    return emitOpError() << "weight must be rank 2, got rank "
                         << weight.getRank();
  int64_t k =
      getTransposeWeight() ? weight.getDimSize(1) : weight.getDimSize(0);
  int64_t n =
      getTransposeWeight() ? weight.getDimSize(0) : weight.getDimSize(1);
  if (!dimsCompatible(input.getShape().back(), k))
    return emitOpError() << "input's last dimension "
                         << formatDim(input.getShape().back())
                         << " does not match the weight's input dimension "
                         << formatDim(k) << " (weight "
                         << formatShape(weight.getShape())
                         << (getTransposeWeight() ? ", transposed)" : ")");
  if (getBias()) {
    if (failed(expectShape(*this, "bias", ranked(getBias()), {n})))
      return failure();
    if (failed(sameElementType(*this, getInput(), "input", getBias(), "bias")))
      return failure();
  }
  SmallVector<int64_t> expected(input.getShape().drop_back());
  expected.push_back(n);
  if (failed(expectShape(*this, "result", ranked(getResult()), expected)))
    return failure();
  if (failed(
          sameElementType(*this, getInput(), "input", getWeight(), "weight")))
    return failure();
  return sameElementType(*this, getInput(), "input", getResult(), "result");
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

static LogicalResult verifyTrailingBroadcast(Operation *op, Value lhs,
                                             Value rhs) {
  auto l = ranked(lhs), r = ranked(rhs);
  if (r.getRank() > l.getRank() ||
      !shapesCompatible(l.getShape().take_back(r.getRank()), r.getShape()))
    return op->emitOpError()
           << "rhs shape " << formatShape(r.getShape())
           << " must equal lhs shape " << formatShape(l.getShape())
           << " or a suffix of it";
  return sameElementType(op, lhs, "lhs", rhs, "rhs");
}

LogicalResult AddOp::verify() {
  return verifyTrailingBroadcast(*this, getLhs(), getRhs());
}
LogicalResult MulOp::verify() {
  return verifyTrailingBroadcast(*this, getLhs(), getRhs());
}

//===----------------------------------------------------------------------===//
// Attention building blocks
//===----------------------------------------------------------------------===//

LogicalResult CausalMaskOp::verify() {
  if (ranked(getInput()).getRank() < 2)
    return emitOpError() << "input must have rank >= 2 [..., queries, keys]";
  return success();
}

// I64Attr accessors return uint64_t; axes and counts are read back as signed.
int64_t SoftmaxOp::getNormalizedAxis() {
  int64_t axis = static_cast<int64_t>(getAxis());
  return axis < 0 ? axis + ranked(getInput()).getRank() : axis;
}

LogicalResult SoftmaxOp::verify() {
  int64_t rank = ranked(getInput()).getRank();
  int64_t axis = static_cast<int64_t>(getAxis());
  if (axis < -rank || axis >= rank)
    return emitOpError() << "axis " << axis << " is out of range for rank "
                         << rank;
  return success();
}

LogicalResult ScaledMaskedSoftmaxOp::verify() {
  int64_t rank = ranked(getInput()).getRank();
  if (rank < (getCausal() ? 2 : 1))
    return emitOpError() << "input of rank " << rank << " is too small"
                         << (getCausal() ? " for a causal mask" : "");
  return success();
}

LogicalResult AttentionOp::verify() {
  auto q = ranked(getQuery()), k = ranked(getKey()), v = ranked(getValue());
  for (auto [t, name] : {std::pair{q, "query"}, {k, "key"}, {v, "value"}})
    if (t.getRank() != 3)
      return emitOpError() << name << " must be rank 3 [batch, seq, dim], got "
                           << formatShape(t.getShape());
  int64_t dim = q.getDimSize(2);
  if (ShapedType::isDynamic(dim))
    return emitOpError() << "the model dimension of query must be static";
  int64_t heads = static_cast<int64_t>(getNumHeads());
  if (heads <= 0 || dim % heads != 0)
    return emitOpError() << "num_heads = " << heads
                         << " must be positive and divide the model dimension "
                         << dim;
  if (failed(expectShape(*this, "key", k, {q.getDimSize(0), kDynamic, dim})) ||
      failed(expectShape(*this, "value", v,
                         {q.getDimSize(0), k.getDimSize(1), dim})) ||
      failed(expectShape(*this, "result", ranked(getResult()), q.getShape())))
    return failure();
  if (!(getScale().convertToFloat() > 0.0f))
    return emitOpError() << "scale must be > 0";
  if (failed(sameElementType(*this, getQuery(), "query", getKey(), "key")) ||
      failed(sameElementType(*this, getQuery(), "query", getValue(), "value")))
    return failure();
  return sameElementType(*this, getQuery(), "query", getResult(), "result");
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  auto in = ranked(getInput()), out = ranked(getResult());
  if (failed(
          sameElementType(*this, getInput(), "input", getResult(), "result")))
    return failure();
  std::string why;
  if (!isValidReshape(in.getShape(), out.getShape(), &why))
    return emitOpError() << "cannot reshape " << formatShape(in.getShape())
                         << " to " << formatShape(out.getShape()) << ": "
                         << why;
  return success();
}

LogicalResult TransposeOp::verify() {
  auto in = ranked(getInput());
  ArrayRef<int64_t> perm = getPermutation();
  if ((int64_t)perm.size() != in.getRank())
    return emitOpError() << "permutation has " << perm.size()
                         << " entries for an input of rank " << in.getRank();
  llvm::SmallSet<int64_t, 8> seen;
  for (int64_t p : perm)
    if (p < 0 || p >= in.getRank() || !seen.insert(p).second)
      return emitOpError() << "permutation must hold each axis 0.."
                           << in.getRank() - 1 << " exactly once";
  SmallVector<int64_t> expected;
  for (int64_t p : perm)
    expected.push_back(in.getDimSize(p));
  if (failed(expectShape(*this, "result", ranked(getResult()), expected)))
    return failure();
  return sameElementType(*this, getInput(), "input", getResult(), "result");
}

LogicalResult SplitOp::verify() {
  auto in = ranked(getInput());
  int64_t rank = in.getRank(), axis = static_cast<int64_t>(getAxis());
  if (axis < 0 || axis >= rank)
    return emitOpError() << "axis " << axis << " is out of range for rank "
                         << rank;
  int64_t parts = getNumResults();
  if (parts < 1)
    return emitOpError() << "must have at least one result";
  int64_t size = in.getDimSize(axis);
  if (ShapedType::isDynamic(size) || size % parts != 0)
    return emitOpError() << "axis " << axis << " of size " << formatDim(size)
                         << " must be static and divisible by " << parts;
  SmallVector<int64_t> expected(in.getShape());
  expected[axis] = size / parts;
  for (auto [i, r] : llvm::enumerate(getResults())) {
    if (failed(expectShape(*this, ("result #" + Twine(i)).str(), ranked(r),
                           expected)) ||
        failed(sameElementType(*this, getInput(), "input", r, "results")))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

LogicalResult CrossEntropyOp::verify() {
  auto logits = ranked(getLogits()), targets = ranked(getTargets());
  if (logits.getRank() < 1)
    return emitOpError() << "logits must have rank >= 1";
  if (failed(expectShape(*this, "targets", targets,
                         logits.getShape().drop_back())))
    return failure();
  if (getWeights()) {
    if (failed(expectShape(*this, "weights", ranked(getWeights()),
                           targets.getShape())) ||
        failed(sameElementType(*this, getLogits(), "logits", getWeights(),
                               "weights")))
      return failure();
  }
  return sameElementType(*this, getLogits(), "logits", getResult(), "result");
}

//===----------------------------------------------------------------------===//
// Fusion regions
//===----------------------------------------------------------------------===//

LogicalResult FusionOp::verify() {
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError() << "body has " << body.getNumArguments()
                         << " arguments for " << getInputs().size()
                         << " inputs";
  for (auto [i, pair] : llvm::enumerate(
           llvm::zip(body.getArgumentTypes(), getInputs().getTypes())))
    if (std::get<0>(pair) != std::get<1>(pair))
      return emitOpError() << "body argument #" << i << " has type "
                           << std::get<0>(pair) << " but input #" << i
                           << " has type " << std::get<1>(pair);
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError() << "body must end with gpt.yield";
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError() << "gpt.yield types do not match the results";
  if (getNumResults() == 0)
    return emitOpError() << "must have at least one result";
  int64_t ops = 0;
  for (Operation &op : body.without_terminator()) {
    if (!isFusible(&op))
      return op.emitOpError() << "cannot be part of a gpt.fusion body (only "
                                 "elementwise ops and gpt.layernorm can)";
    ++ops;
  }
  if (ops == 0)
    return emitOpError() << "body holds no operation";
  return success();
}

#define GET_OP_CLASSES
#include "dialects/gpt/GPTOps.cpp.inc"
