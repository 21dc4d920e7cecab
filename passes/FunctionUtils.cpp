//===- FunctionUtils.cpp
//---------------------------------------------------===//
#include "passes/FunctionUtils.h"

using namespace mlir;

static const char *kRoles[] = {"input", "param", "state"};

std::string gpt::argumentName(func::FuncOp fn, unsigned index) {
  for (const char *role : kRoles)
    if (auto name = fn.getArgAttrOfType<StringAttr>(
            index, (Twine("gpt.") + role).str()))
      return name.str();
  return "";
}

std::string gpt::argumentRole(func::FuncOp fn, unsigned index) {
  for (const char *role : kRoles)
    if (fn.getArgAttr(index, (Twine("gpt.") + role).str()))
      return role;
  return "";
}

std::string gpt::resultName(func::FuncOp fn, unsigned index) {
  if (auto name = fn.getResultAttrOfType<StringAttr>(index, "gpt.output"))
    return name.str();
  return "result" + std::to_string(index);
}

void gpt::setArgumentRole(func::FuncOp fn, unsigned index, StringRef role,
                          StringRef name) {
  fn.setArgAttr(index, (Twine("gpt.") + role).str(),
                StringAttr::get(fn.getContext(), name));
}
