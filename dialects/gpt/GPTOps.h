//===- GPTOps.h - operations of the gpt dialect -----------------*- C++ -*-===//
#ifndef GPT_DIALECTS_GPT_GPTOPS_H
#define GPT_DIALECTS_GPT_GPTOPS_H

#include "dialects/gpt/GPTDialect.h"
#include "dialects/gpt/GPTEnums.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/gpt/GPTInterfaces.h.inc"

#define GET_OP_CLASSES
#include "dialects/gpt/GPTOps.h.inc"

namespace mlir::gpt {
/// Ops that compute each output element from the same element of their
/// inputs (with trailing broadcast); these may join a gpt.fusion region.
bool isElementwise(Operation *op);
/// Ops allowed in a gpt.fusion body: elementwise ops plus gpt.layernorm.
bool isFusible(Operation *op);
} // namespace mlir::gpt

#endif
