//===- ScaleMatcher.h - recognise "multiply by a constant" ------*- C++ -*-===//
#ifndef GPT_PASSES_SCALEMATCHER_H
#define GPT_PASSES_SCALEMATCHER_H

#include "mlir/IR/Value.h"
#include <optional>

namespace mlir::gpt {
/// If `op` multiplies its first operand by a compile-time constant (a
/// gpt.scale, or a gpt.mul whose rhs is a constant splat), returns the factor
/// and sets `input` to the scaled value.
std::optional<float> matchConstantScale(Operation *op, Value &input);

/// What feeds a softmax: walking up from its input through at most one
/// gpt.causal_mask and one constant scale (either order), each used only by
/// the next step. `input` is where the walk stopped.
struct ScaleMaskChain {
  Value input;
  bool masked = false;
  std::optional<float> scale;
  /// mask(scale(x)): the order every scale is valid in. scale(mask(x))
  /// equals it only for a positive factor.
  bool scaleFeedsMask = false;
};
ScaleMaskChain matchScaleMaskChain(Value softmaxInput);
} // namespace mlir::gpt

#endif
