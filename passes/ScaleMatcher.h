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
} // namespace mlir::gpt

#endif
