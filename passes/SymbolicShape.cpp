//===- SymbolicShape.cpp - symbolic B/T dims of types ---------------------===//
#include "passes/SymbolicShape.h"

using namespace mlir;

SmallVector<int64_t> gpt::symbolicShape(RankedTensorType type) {
  SmallVector<int64_t> shape;
  bool seenBatch = false;
  for (int64_t d : type.getShape()) {
    if (!ShapedType::isDynamic(d)) {
      shape.push_back(d);
      continue;
    }
    shape.push_back(seenBatch ? kSequenceDim : kBatchDim);
    seenBatch = true;
  }
  return shape;
}

std::optional<int64_t> gpt::elementsPerToken(RankedTensorType type) {
  int batch = 0, seq = 0;
  int64_t elements = 1;
  for (int64_t d : symbolicShape(type)) {
    if (d == kBatchDim)
      ++batch;
    else if (d == kSequenceDim)
      ++seq;
    else
      elements *= d;
  }
  // c*B*T, or c*B (e.g. the last position's logits), which is at most that.
  if (batch == 1 && seq <= 1)
    return elements;
  return std::nullopt;
}

int64_t gpt::staticBytes(RankedTensorType type) {
  int64_t bytes = (type.getElementTypeBitWidth() + 7) / 8;
  for (int64_t d : type.getShape())
    bytes *= d;
  return bytes;
}
