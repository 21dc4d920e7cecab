//===- ShapeUtils.cpp
//-------------------------------------------------------===//
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
