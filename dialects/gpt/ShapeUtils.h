//===- ShapeUtils.h - shape helpers shared by verifiers and passes -*- C++
//-*-===//
#ifndef GPT_DIALECTS_GPT_SHAPEUTILS_H
#define GPT_DIALECTS_GPT_SHAPEUTILS_H

#include "mlir/IR/BuiltinTypes.h"
#include <string>

namespace mlir::gpt {
constexpr int64_t kDynamic = ShapedType::kDynamic;

/// Equal, or at least one side unknown.
inline bool dimsCompatible(int64_t a, int64_t b) {
  return a == b || ShapedType::isDynamic(a) || ShapedType::isDynamic(b);
}
bool shapesCompatible(ArrayRef<int64_t> a, ArrayRef<int64_t> b);

/// "?x?x768" style rendering used in diagnostics.
std::string formatShape(ArrayRef<int64_t> shape);
std::string formatDim(int64_t dim);

/// The gpt.reshape rule: a shared leading prefix (dynamic dims allowed), then
/// static suffixes of equal element count. Sets *why when invalid.
bool isValidReshape(ArrayRef<int64_t> from, ArrayRef<int64_t> to,
                    std::string *why = nullptr);
} // namespace mlir::gpt

#endif
