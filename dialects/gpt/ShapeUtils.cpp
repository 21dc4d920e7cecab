//===- ShapeUtils.cpp - shape helpers -------------------------------------===//
#include "dialects/gpt/ShapeUtils.h"

using namespace mlir;

bool gpt::shapesCompatible(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!dimsCompatible(a[i], b[i]))
      return false;
  return true;
}

std::string gpt::formatDim(int64_t dim) {
  return ShapedType::isDynamic(dim) ? "?" : std::to_string(dim);
}

std::string gpt::formatShape(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + formatDim(shape[i]);
  return s + "]";
}

bool gpt::isValidReshape(ArrayRef<int64_t> from, ArrayRef<int64_t> to,
                         std::string *why) {
  size_t prefix = 0;
  while (prefix < from.size() && prefix < to.size() &&
         from[prefix] == to[prefix])
    ++prefix;
  int64_t fromCount = 1, toCount = 1;
  for (int64_t d : from.drop_front(prefix)) {
    if (ShapedType::isDynamic(d)) {
      if (why)
        *why = "dynamic dimensions must stay in the shared leading dimensions";
      return false;
    }
    fromCount *= d;
  }
  for (int64_t d : to.drop_front(prefix)) {
    if (ShapedType::isDynamic(d)) {
      if (why)
        *why = "dynamic dimensions must stay in the shared leading dimensions";
      return false;
    }
    toCount *= d;
  }
  if (fromCount != toCount) {
    if (why)
      *why = "element counts differ (" + std::to_string(fromCount) + " vs " +
             std::to_string(toCount) + ")";
    return false;
  }
  return true;
}

namespace mlir::gpt::infer {
namespace {
RankedTensorType rankedOf(Value v) {
  return cast<RankedTensorType>(v.getType());
}
RankedTensorType like(Value v, ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, rankedOf(v).getElementType());
}
} // namespace

RankedTensorType embedding(Value table, Value ids) {
  SmallVector<int64_t> shape(rankedOf(ids).getShape());
  shape.push_back(rankedOf(table).getDimSize(1));
  return like(table, shape);
}

RankedTensorType linear(Value input, Value weight, bool transposeWeight) {
  SmallVector<int64_t> shape(rankedOf(input).getShape());
  auto w = rankedOf(weight);
  shape.back() = w.getDimSize(transposeWeight ? 0 : 1);
  return like(input, shape);
}

RankedTensorType matmul(Value lhs, Value rhs, bool transposeLhs,
                        bool transposeRhs) {
  auto l = rankedOf(lhs), r = rankedOf(rhs);
  SmallVector<int64_t> shape(l.getShape());
  int64_t rank = l.getRank();
  shape[rank - 2] = l.getDimSize(transposeLhs ? rank - 1 : rank - 2);
  shape[rank - 1] =
      r.getDimSize(transposeRhs ? r.getRank() - 2 : r.getRank() - 1);
  return like(lhs, shape);
}

RankedTensorType transpose(Value input, ArrayRef<int64_t> permutation) {
  SmallVector<int64_t> shape;
  for (int64_t p : permutation)
    shape.push_back(rankedOf(input).getDimSize(p));
  return like(input, shape);
}

RankedTensorType splitPart(Value input, int64_t axis, unsigned parts) {
  SmallVector<int64_t> shape(rankedOf(input).getShape());
  if (!ShapedType::isDynamic(shape[axis]))
    shape[axis] /= parts;
  return like(input, shape);
}

RankedTensorType takeLast(Value input) {
  auto t = rankedOf(input);
  return like(input, {t.getDimSize(0), t.getDimSize(2)});
}

RankedTensorType attentionLse(Value query, int64_t heads) {
  auto q = rankedOf(query);
  return like(query, {q.getDimSize(0), heads, q.getDimSize(1)});
}

RankedTensorType packedQuery(Value qkv) {
  auto t = rankedOf(qkv);
  return like(qkv, {t.getDimSize(0), t.getDimSize(1), t.getDimSize(2) / 3});
}
} // namespace mlir::gpt::infer
