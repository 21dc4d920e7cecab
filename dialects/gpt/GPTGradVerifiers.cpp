//===- GPTGradVerifiers.cpp - verifiers of backward/optimizer ops ---------===//
#include "dialects/gpt/GPTOps.h"
#include "dialects/gpt/ShapeUtils.h"

using namespace mlir;
using namespace mlir::gpt;

static RankedTensorType ranked(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// query [B, T, D] with a static D that num_heads divides.
static LogicalResult verifyHeads(Operation *op, RankedTensorType q,
                                 int64_t heads) {
  if (q.getRank() != 3 || ShapedType::isDynamic(q.getDimSize(2)))
    return op->emitOpError()
           << "query must be [batch, seq, dim] with a static dim";
  if (heads <= 0 || q.getDimSize(2) % heads != 0)
    return op->emitOpError()
           << "num_heads = " << heads << " must be positive and divide "
           << q.getDimSize(2);
  return success();
}

LogicalResult AttentionWithLseOp::verify() {
  auto q = ranked(getQuery());
  int64_t heads = static_cast<int64_t>(getNumHeads());
  if (failed(verifyHeads(*this, q, heads)))
    return failure();
  if (getResult().getType() != q)
    return emitOpError() << "result must have the query's type";
  SmallVector<int64_t> lse = {q.getDimSize(0), heads, q.getDimSize(1)};
  if (!shapesCompatible(ranked(getLse()).getShape(), lse))
    return emitOpError() << "lse has shape "
                         << formatShape(ranked(getLse()).getShape())
                         << ", expected " << formatShape(lse);
  return success();
}

/// qkv [B, T, 3D] with a static D that num_heads divides; sets D.
static LogicalResult verifyPackedQkv(Operation *op, RankedTensorType qkv,
                                     int64_t heads, int64_t &dim) {
  if (qkv.getRank() != 3 || ShapedType::isDynamic(qkv.getDimSize(2)) ||
      qkv.getDimSize(2) % 3 != 0)
    return op->emitOpError() << "qkv must be [batch, seq, 3 * dim] with a "
                                "static dim, got "
                             << formatShape(qkv.getShape());
  dim = qkv.getDimSize(2) / 3;
  if (heads <= 0 || dim % heads != 0)
    return op->emitOpError()
           << "num_heads = " << heads << " must be positive and divide " << dim;
  return success();
}

/// `v` has `shape` (dynamic dims match anything).
static LogicalResult expectPackedShape(Operation *op, StringRef name, Value v,
                                       ArrayRef<int64_t> shape) {
  if (shapesCompatible(ranked(v).getShape(), shape))
    return success();
  return op->emitOpError() << name << " has shape "
                           << formatShape(ranked(v).getShape()) << ", expected "
                           << formatShape(shape);
}

LogicalResult AttentionQkvOp::verify() {
  auto qkv = ranked(getQkv());
  int64_t heads = static_cast<int64_t>(getNumHeads()), dim = 0;
  if (failed(verifyPackedQkv(*this, qkv, heads, dim)))
    return failure();
  int64_t B = qkv.getDimSize(0), T = qkv.getDimSize(1);
  return failure(
      failed(expectPackedShape(*this, "result", getResult(), {B, T, dim})) ||
      failed(expectPackedShape(*this, "lse", getLse(), {B, heads, T})));
}

LogicalResult AttentionQkvGradOp::verify() {
  auto qkv = ranked(getQkv());
  int64_t heads = static_cast<int64_t>(getNumHeads()), dim = 0;
  if (failed(verifyPackedQkv(*this, qkv, heads, dim)))
    return failure();
  int64_t B = qkv.getDimSize(0), T = qkv.getDimSize(1);
  return failure(
      failed(expectPackedShape(*this, "result_grad", getResultGrad(),
                               {B, T, dim})) ||
      failed(expectPackedShape(*this, "result", getResult(), {B, T, dim})) ||
      failed(expectPackedShape(*this, "lse", getLse(), {B, heads, T})) ||
      failed(
          expectPackedShape(*this, "qkv_grad", getQkvGrad(), qkv.getShape())));
}

LogicalResult SumLeadingOp::verify() {
  auto in = ranked(getInput()), out = ranked(getResult());
  if (out.getRank() > in.getRank() ||
      !shapesCompatible(in.getShape().take_back(out.getRank()), out.getShape()))
    return emitOpError() << "result shape " << formatShape(out.getShape())
                         << " must be a suffix of the input shape "
                         << formatShape(in.getShape());
  return success();
}

LogicalResult ConcatOp::verify() {
  if (getInputs().empty())
    return emitOpError() << "needs at least one input";
  auto first = ranked(getInputs()[0]);
  int64_t axis = static_cast<int64_t>(getAxis());
  if (axis < 0 || axis >= first.getRank())
    return emitOpError() << "axis " << axis << " is out of range";
  int64_t total = 0;
  for (Value v : getInputs()) {
    auto t = ranked(v);
    if (t.getRank() != first.getRank() ||
        ShapedType::isDynamic(t.getDimSize(axis)))
      return emitOpError() << "inputs must share the rank and have a static "
                              "size along the axis";
    total += t.getDimSize(axis);
  }
  SmallVector<int64_t> expected(first.getShape());
  expected[axis] = total;
  if (!shapesCompatible(ranked(getResult()).getShape(), expected))
    return emitOpError() << "result has shape "
                         << formatShape(ranked(getResult()).getShape())
                         << ", expected " << formatShape(expected);
  return success();
}

LogicalResult FillOp::verify() {
  if (!ranked(getResult()).hasStaticShape())
    return emitOpError() << "result must have a static shape";
  return success();
}

//===----------------------------------------------------------------------===//
// KV cache ops
//===----------------------------------------------------------------------===//

static LogicalResult verifyPaging(Operation *op, RankedTensorType cache,
                                  RankedTensorType table,
                                  RankedTensorType start, int64_t batch,
                                  int64_t dim, StringRef cacheName) {
  if (cache.getRank() != 3 || ShapedType::isDynamic(cache.getDimSize(1)))
    return op->emitOpError() << cacheName
                             << " must be [blocks, block_size, dim] with a "
                                "static block size, got "
                             << formatShape(cache.getShape());
  if (!dimsCompatible(cache.getDimSize(2), dim))
    return op->emitOpError()
           << cacheName << " has dim " << formatDim(cache.getDimSize(2))
           << ", expected " << formatDim(dim);
  if (table.getRank() != 2 || !dimsCompatible(table.getDimSize(0), batch))
    return op->emitOpError() << "block_table must be [batch, blocks], got "
                             << formatShape(table.getShape());
  if (start.getRank() != 1 || !dimsCompatible(start.getDimSize(0), batch))
    return op->emitOpError()
           << "start must be [batch], got " << formatShape(start.getShape());
  return success();
}

LogicalResult KVCacheWriteOp::verify() {
  auto fresh = ranked(getNewValues());
  if (fresh.getRank() != 3)
    return emitOpError() << "new_values must be [batch, seq, dim]";
  return verifyPaging(*this, ranked(getCache()), ranked(getBlockTable()),
                      ranked(getStart()), fresh.getDimSize(0),
                      fresh.getDimSize(2), "cache");
}

LogicalResult PagedAttentionOp::verify() {
  auto q = ranked(getQuery());
  int64_t heads = static_cast<int64_t>(getNumHeads());
  if (failed(verifyHeads(*this, q, heads)))
    return failure();
  if (getKeyCache().getType() != getValueCache().getType())
    return emitOpError() << "key and value caches must have the same type";
  if (getResult().getType() != q)
    return emitOpError() << "result must have the query's type";
  return verifyPaging(*this, ranked(getKeyCache()), ranked(getBlockTable()),
                      ranked(getStart()), q.getDimSize(0), q.getDimSize(2),
                      "key_cache");
}

LogicalResult TakeLastOp::verify() {
  auto in = ranked(getInput()), out = ranked(getResult());
  if (in.getRank() != 3 || out.getRank() != 2 ||
      !dimsCompatible(in.getDimSize(0), out.getDimSize(0)) ||
      !dimsCompatible(in.getDimSize(2), out.getDimSize(1)))
    return emitOpError() << "expects [B, T, D] -> [B, D], got "
                         << formatShape(in.getShape()) << " -> "
                         << formatShape(out.getShape());
  return success();
}

LogicalResult AllReduceOp::verify() {
  if (getInputs().empty())
    return emitOpError() << "needs at least one tensor to reduce";
  if (getGroup().empty())
    return emitOpError() << "needs a non-empty process group name";
  for (Value v : getInputs()) {
    auto t = ranked(v);
    if (!t.getElementType().isF32())
      return emitOpError() << "reduces f32 tensors, got " << t;
    if (!t.hasStaticShape())
      return emitOpError()
             << "reduces static-shaped tensors (every rank must pass the "
                "same number of elements), got "
             << t;
  }
  return success();
}
