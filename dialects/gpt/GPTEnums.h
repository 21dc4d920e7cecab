//===- GPTEnums.h - enums of the gpt dialect --------------------*- C++ -*-===//
//
// SlotKind (#gpt.slot) and Reduction (gpt.all_reduce), generated from
// GPTAttributes.td; included by both GPTAttributes.h and GPTOps.h.
//
//===----------------------------------------------------------------------===//
#ifndef GPT_DIALECTS_GPT_GPTENUMS_H
#define GPT_DIALECTS_GPT_GPTENUMS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "dialects/gpt/GPTEnums.h.inc"

#endif
