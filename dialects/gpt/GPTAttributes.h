//===- GPTAttributes.h - attributes of the gpt dialect ----------*- C++ -*-===//
//
// The gpt dialect's attributes: `#gpt.slot` and the names and typed
// accessors of the discardable `gpt.*` attributes the frontend and passes
// put on modules, functions, their arguments and results, and ops. Their
// names are written here and nowhere else; GPTDialect verifies their types.
//
//   module   gpt.config = "<model JSON>"   gpt.target = "cpu" | "vulkan"
//   argument gpt.input | gpt.param | gpt.state = "<name>"   (its role)
//            gpt.weight_decay (unit)   gpt.symbols = array<i64: ...>
//   result   gpt.output = "<name>"   gpt.alias_input = <argument index>
//   op       gpt.kernel = "<registry kernel>"   gpt.plan = [#gpt.slot...]
//   function gpt.static_bytes, gpt.token_bytes = <arena peaks>
//
//===----------------------------------------------------------------------===//
#ifndef GPT_DIALECTS_GPT_GPTATTRIBUTES_H
#define GPT_DIALECTS_GPT_GPTATTRIBUTES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"

#include "schema/KernelRegistry.h"

#include <optional>
#include <string>

#include "dialects/gpt/GPTEnums.h"
#define GET_ATTRDEF_CLASSES
#include "dialects/gpt/GPTAttributes.h.inc"

namespace mlir::gpt {

/// Names of the discardable attributes (see the table above).
namespace attr {
inline constexpr llvm::StringLiteral kConfig = "gpt.config";
inline constexpr llvm::StringLiteral kTarget = "gpt.target";
inline constexpr llvm::StringLiteral kInput = "gpt.input";
inline constexpr llvm::StringLiteral kParam = "gpt.param";
inline constexpr llvm::StringLiteral kState = "gpt.state";
inline constexpr llvm::StringLiteral kWeightDecay = "gpt.weight_decay";
inline constexpr llvm::StringLiteral kSymbols = "gpt.symbols";
inline constexpr llvm::StringLiteral kOutput = "gpt.output";
inline constexpr llvm::StringLiteral kAliasInput = "gpt.alias_input";
inline constexpr llvm::StringLiteral kKernel = "gpt.kernel";
inline constexpr llvm::StringLiteral kPlan = "gpt.plan";
inline constexpr llvm::StringLiteral kStaticBytes = "gpt.static_bytes";
inline constexpr llvm::StringLiteral kTokenBytes = "gpt.token_bytes";
} // namespace attr

/// The role an argument is bound in: host data, model parameter, or
/// optimizer/accumulator state.
enum class ArgRole { Input, Param, State };
StringRef roleAttrName(ArgRole role);
/// "input", "param", "state".
StringRef roleName(ArgRole role);

/// The name an argument is bound by ("tokens", "wte.weight", ...) and its
/// role; empty / nullopt when untagged.
std::string argumentName(func::FuncOp fn, unsigned index);
std::optional<ArgRole> argumentRole(func::FuncOp fn, unsigned index);
void setArgumentRole(func::FuncOp fn, unsigned index, ArgRole role,
                     StringRef name);
bool hasWeightDecay(func::FuncOp fn, unsigned index);
void setWeightDecay(func::FuncOp fn, unsigned index);

/// Explicit dims of an argument its type cannot name (`gpt.symbols`, e.g.
/// the KV pool size as -3); empty when the type says it all.
ArrayRef<int64_t> argumentSymbols(func::FuncOp fn, unsigned index);
void setArgumentSymbols(func::FuncOp fn, unsigned index,
                        ArrayRef<int64_t> dims);

/// The `gpt.output` name of a result, or "result<i>"; and its setter.
std::string resultName(func::FuncOp fn, unsigned index);
void setResultName(func::FuncOp fn, unsigned index, StringRef name);
/// The argument a result is written back into (`gpt.alias_input`).
std::optional<int64_t> resultAliasedInput(func::FuncOp fn, unsigned index);
void setResultAliasedInput(func::FuncOp fn, unsigned index, int64_t arg);

/// The registry kernel an op was lowered to (`gpt.kernel`).
std::optional<::gpt::KernelId> getKernel(Operation *op);
void setKernel(Operation *op, ::gpt::KernelId kernel);
/// The memory plan of an op's results (`gpt.plan`); empty when unplanned.
SmallVector<SlotAttr> getPlan(Operation *op);
void setPlan(Operation *op, ArrayRef<SlotAttr> slots);
/// A planned function's arena peaks (`gpt.static_bytes`, `gpt.token_bytes`).
struct ArenaSizes {
  int64_t staticBytes = 0;
  int64_t tokenBytesPerToken = 0;
};
std::optional<ArenaSizes> getArenaSizes(func::FuncOp fn);
void setArenaSizes(func::FuncOp fn, ArenaSizes sizes);

/// The model config JSON and the target a module was compiled for.
std::optional<StringRef> getModelConfig(ModuleOp module);
void setModelConfig(ModuleOp module, StringRef json);
std::optional<StringRef> getTarget(ModuleOp module);
void setTarget(ModuleOp module, StringRef target);

} // namespace mlir::gpt

#endif
