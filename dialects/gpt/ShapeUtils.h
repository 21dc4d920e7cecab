//===- ShapeUtils.h - shape helpers of verifiers and passes -----*- C++ -*-===//
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
/// Result types of shape-determined ops, for their builders (the ops'
/// verifiers check the same rules on parsed IR). Operands must already be
/// valid for the op; the element type is the first float operand's.
namespace infer {
/// ids [...] and table [V, D] -> [..., D].
RankedTensorType embedding(Value table, Value ids);
/// x [..., K] and W [K, N] (or [N, K] with transposeWeight) -> [..., N].
RankedTensorType linear(Value input, Value weight, bool transposeWeight);
/// lhs [..., M, K] · rhs [..., K, N] (either transposed) -> [..., M, N].
RankedTensorType matmul(Value lhs, Value rhs, bool transposeLhs,
                        bool transposeRhs);
/// Dims of `input` in the order of `permutation`.
RankedTensorType transpose(Value input, ArrayRef<int64_t> permutation);
/// One of `parts` equal parts of `input` along `axis`.
RankedTensorType splitPart(Value input, int64_t axis, unsigned parts);
/// [B, T, D] -> [B, D].
RankedTensorType takeLast(Value input);
/// query [B, T, D] -> lse [B, heads, T].
RankedTensorType attentionLse(Value query, int64_t heads);
/// qkv [B, T, 3D] -> [B, T, D].
RankedTensorType packedQuery(Value qkv);
} // namespace infer
} // namespace mlir::gpt

#endif
