//===- GPTAttributes.cpp - #gpt.slot and the gpt.* attributes -------------===//
#include "dialects/gpt/GPTAttributes.h"
#include "dialects/gpt/GPTDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::gpt;

#include "dialects/gpt/GPTEnums.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "dialects/gpt/GPTAttributes.cpp.inc"

void GPTDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/gpt/GPTAttributes.cpp.inc"
      >();
}

LogicalResult SlotAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               SlotKind kind, int64_t offset) {
  if (offset < 0)
    return emitError() << "#gpt.slot offset must be >= 0, got " << offset;
  if (kind == SlotKind::None && offset != 0)
    return emitError() << "#gpt.slot<none, ...> takes offset 0";
  return success();
}

//===----------------------------------------------------------------------===//
// Verification of the discardable attributes: each name has one place where
// it may appear and one type.
//===----------------------------------------------------------------------===//

namespace {
template <typename AttrT>
LogicalResult expectType(Operation *op, NamedAttribute named, StringRef what) {
  if (isa<AttrT>(named.getValue()))
    return success();
  return op->emitError() << "'" << named.getName().getValue() << "' must be "
                         << what << ", got " << named.getValue();
}

LogicalResult notHere(Operation *op, NamedAttribute named, StringRef where) {
  return op->emitError() << "'" << named.getName().getValue()
                         << "' is not a gpt attribute of " << where;
}
} // namespace

LogicalResult GPTDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute named) {
  StringRef name = named.getName().getValue();
  if (name == attr::kConfig || name == attr::kTarget) {
    if (!isa<ModuleOp>(op))
      return op->emitError() << "'" << name << "' belongs on the module";
    if (failed(expectType<StringAttr>(op, named, "a string")))
      return failure();
    StringRef value = cast<StringAttr>(named.getValue()).getValue();
    if (name == attr::kTarget && value != "cpu" && value != "vulkan")
      return op->emitError()
             << "unknown gpt.target '" << value << "' (cpu or vulkan)";
    return success();
  }
  if (name == attr::kStaticBytes || name == attr::kTokenBytes) {
    if (!isa<func::FuncOp>(op))
      return op->emitError() << "'" << name << "' belongs on a function";
    return expectType<IntegerAttr>(op, named, "an integer");
  }
  if (name == attr::kKernel) {
    if (failed(expectType<StringAttr>(op, named, "a kernel name")))
      return failure();
    StringRef kernel = cast<StringAttr>(named.getValue()).getValue();
    if (!::gpt::kernelByName(std::string_view(kernel.data(), kernel.size())))
      return op->emitError()
             << "unknown kernel '" << kernel << "' (schema/Kernels.def)";
    return success();
  }
  if (name == attr::kPlan) {
    auto plan = dyn_cast<ArrayAttr>(named.getValue());
    if (!plan ||
        !llvm::all_of(plan, [](Attribute a) { return isa<SlotAttr>(a); }))
      return op->emitError() << "'gpt.plan' must be an array of #gpt.slot";
    if (plan.size() != op->getNumResults())
      return op->emitError()
             << "'gpt.plan' has " << plan.size() << " entries for "
             << op->getNumResults() << " results";
    return success();
  }
  return notHere(op, named, "an operation");
}

LogicalResult GPTDialect::verifyRegionArgAttribute(Operation *op, unsigned,
                                                   unsigned,
                                                   NamedAttribute named) {
  StringRef name = named.getName().getValue();
  if (name == attr::kInput || name == attr::kParam || name == attr::kState)
    return expectType<StringAttr>(op, named, "the argument's name");
  if (name == attr::kWeightDecay)
    return expectType<UnitAttr>(op, named, "a unit attribute");
  if (name == attr::kSymbols)
    return expectType<DenseI64ArrayAttr>(op, named, "array<i64: ...>");
  return notHere(op, named, "a function argument");
}

LogicalResult GPTDialect::verifyRegionResultAttribute(Operation *op, unsigned,
                                                      unsigned,
                                                      NamedAttribute named) {
  StringRef name = named.getName().getValue();
  if (name == attr::kOutput)
    return expectType<StringAttr>(op, named, "the result's name");
  if (name == attr::kAliasInput) {
    if (failed(expectType<IntegerAttr>(op, named, "an argument index")))
      return failure();
    int64_t arg = cast<IntegerAttr>(named.getValue()).getInt();
    auto fn = dyn_cast<func::FuncOp>(op);
    if (fn && (arg < 0 || arg >= fn.getNumArguments()))
      return op->emitError() << "'gpt.alias_input' = " << arg
                             << " is not an argument of @" << fn.getName();
    return success();
  }
  return notHere(op, named, "a function result");
}

//===----------------------------------------------------------------------===//
// Typed accessors.
//===----------------------------------------------------------------------===//

namespace mlir::gpt {

static constexpr ArgRole kRoles[] = {ArgRole::Input, ArgRole::Param,
                                     ArgRole::State};

StringRef roleAttrName(ArgRole role) {
  switch (role) {
  case ArgRole::Input:
    return attr::kInput;
  case ArgRole::Param:
    return attr::kParam;
  case ArgRole::State:
    return attr::kState;
  }
  llvm_unreachable("bad role");
}

StringRef roleName(ArgRole role) {
  return roleAttrName(role).drop_front(StringRef("gpt.").size());
}

std::string argumentName(func::FuncOp fn, unsigned index) {
  for (ArgRole role : kRoles)
    if (auto name = fn.getArgAttrOfType<StringAttr>(index, roleAttrName(role)))
      return name.str();
  return "";
}

std::optional<ArgRole> argumentRole(func::FuncOp fn, unsigned index) {
  for (ArgRole role : kRoles)
    if (fn.getArgAttr(index, roleAttrName(role)))
      return role;
  return std::nullopt;
}

void setArgumentRole(func::FuncOp fn, unsigned index, ArgRole role,
                     StringRef name) {
  fn.setArgAttr(index, roleAttrName(role),
                StringAttr::get(fn.getContext(), name));
}

bool hasWeightDecay(func::FuncOp fn, unsigned index) {
  return bool(fn.getArgAttr(index, attr::kWeightDecay));
}

void setWeightDecay(func::FuncOp fn, unsigned index) {
  fn.setArgAttr(index, attr::kWeightDecay, UnitAttr::get(fn.getContext()));
}

ArrayRef<int64_t> argumentSymbols(func::FuncOp fn, unsigned index) {
  if (auto dims = fn.getArgAttrOfType<DenseI64ArrayAttr>(index, attr::kSymbols))
    return dims.asArrayRef();
  return {};
}

void setArgumentSymbols(func::FuncOp fn, unsigned index,
                        ArrayRef<int64_t> dims) {
  fn.setArgAttr(index, attr::kSymbols,
                DenseI64ArrayAttr::get(fn.getContext(), dims));
}

std::string resultName(func::FuncOp fn, unsigned index) {
  if (auto name = fn.getResultAttrOfType<StringAttr>(index, attr::kOutput))
    return name.str();
  return "result" + std::to_string(index);
}

void setResultName(func::FuncOp fn, unsigned index, StringRef name) {
  fn.setResultAttr(index, attr::kOutput,
                   StringAttr::get(fn.getContext(), name));
}

std::optional<int64_t> resultAliasedInput(func::FuncOp fn, unsigned index) {
  if (auto arg = fn.getResultAttrOfType<IntegerAttr>(index, attr::kAliasInput))
    return arg.getInt();
  return std::nullopt;
}

void setResultAliasedInput(func::FuncOp fn, unsigned index, int64_t arg) {
  fn.setResultAttr(
      index, attr::kAliasInput,
      IntegerAttr::get(IntegerType::get(fn.getContext(), 64), arg));
}

std::optional<::gpt::KernelId> getKernel(Operation *op) {
  auto name = op->getAttrOfType<StringAttr>(attr::kKernel);
  if (!name)
    return std::nullopt;
  StringRef s = name.getValue();
  return ::gpt::kernelByName(std::string_view(s.data(), s.size()));
}

void setKernel(Operation *op, ::gpt::KernelId kernel) {
  op->setAttr(attr::kKernel,
              StringAttr::get(op->getContext(), ::gpt::kernelName(kernel)));
}

SmallVector<SlotAttr> getPlan(Operation *op) {
  SmallVector<SlotAttr> slots;
  if (auto plan = op->getAttrOfType<ArrayAttr>(attr::kPlan))
    for (Attribute a : plan)
      if (auto slot = dyn_cast<SlotAttr>(a))
        slots.push_back(slot);
  return slots;
}

void setPlan(Operation *op, ArrayRef<SlotAttr> slots) {
  SmallVector<Attribute> attrs(slots.begin(), slots.end());
  op->setAttr(attr::kPlan, ArrayAttr::get(op->getContext(), attrs));
}

std::optional<ArenaSizes> getArenaSizes(func::FuncOp fn) {
  auto st = fn->getAttrOfType<IntegerAttr>(attr::kStaticBytes);
  auto tok = fn->getAttrOfType<IntegerAttr>(attr::kTokenBytes);
  if (!st || !tok)
    return std::nullopt;
  return ArenaSizes{st.getInt(), tok.getInt()};
}

void setArenaSizes(func::FuncOp fn, ArenaSizes sizes) {
  Builder b(fn.getContext());
  fn->setAttr(attr::kStaticBytes, b.getI64IntegerAttr(sizes.staticBytes));
  fn->setAttr(attr::kTokenBytes, b.getI64IntegerAttr(sizes.tokenBytesPerToken));
}

std::optional<StringRef> getModelConfig(ModuleOp module) {
  if (auto json = module->getAttrOfType<StringAttr>(attr::kConfig))
    return json.getValue();
  return std::nullopt;
}

void setModelConfig(ModuleOp module, StringRef json) {
  module->setAttr(attr::kConfig, StringAttr::get(module.getContext(), json));
}

std::optional<StringRef> getTarget(ModuleOp module) {
  if (auto target = module->getAttrOfType<StringAttr>(attr::kTarget))
    return target.getValue();
  return std::nullopt;
}

void setTarget(ModuleOp module, StringRef target) {
  module->setAttr(attr::kTarget, StringAttr::get(module.getContext(), target));
}

} // namespace mlir::gpt
