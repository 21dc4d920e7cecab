//===- FunctionUtils.h - naming conventions of gpt functions ----*- C++ -*-===//
//
// Function arguments and results carry their role as attributes:
//   gpt.input = "tokens"   data fed by the host
//   gpt.param = "wte.weight"   a model parameter (gpt.weight_decay: decayed)
//   gpt.state = "adam_m.wte.weight"   optimizer / accumulator state
//   gpt.output = "loss"   on results; gpt.alias_input = i: written in place
//
//===----------------------------------------------------------------------===//
#ifndef GPT_PASSES_FUNCTIONUTILS_H
#define GPT_PASSES_FUNCTIONUTILS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <string>

namespace mlir::gpt {
/// The name an argument is bound by ("tokens", "wte.weight", "grad.x", ...)
/// and its role ("input", "param", "state"); empty when untagged.
std::string argumentName(func::FuncOp fn, unsigned index);
std::string argumentRole(func::FuncOp fn, unsigned index);
/// The `gpt.output` name of a result, or "result<i>".
std::string resultName(func::FuncOp fn, unsigned index);
/// Tags argument `index` with `role` = `name`.
void setArgumentRole(func::FuncOp fn, unsigned index, StringRef role,
                     StringRef name);
} // namespace mlir::gpt

#endif
