//===- SymbolicShape.h - dynamic dims as the symbols B and T ----*- C++ -*-===//
#ifndef GPT_PASSES_SYMBOLICSHAPE_H
#define GPT_PASSES_SYMBOLICSHAPE_H

#include "mlir/IR/BuiltinTypes.h"

#include <optional>

namespace mlir::gpt {
constexpr int64_t kBatchDim = -1;    // B in the artifact
constexpr int64_t kSequenceDim = -2; // T in the artifact
constexpr int64_t kPoolDim = -3;     // N: KV-cache blocks, bound by the caller

/// The shape with the first dynamic dim as B and the others as T (the
/// frontend's tensors are [B, T, ...], [B, H, T, ...] or static).
SmallVector<int64_t> symbolicShape(RankedTensorType type);

/// Elements per token (B*T) when the size is `c * B * T` (or `c * B`, which
/// never exceeds it); nullopt when the type is static or its size is not
/// linear in B*T (e.g. [B, H, T, T]).
std::optional<int64_t> elementsPerToken(RankedTensorType type);

/// Bytes of a static-shaped tensor.
int64_t staticBytes(RankedTensorType type);
} // namespace mlir::gpt

#endif
