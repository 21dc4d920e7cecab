//===- GPTDialect.cpp - gpt dialect registration --------------------------===//
#include "dialects/gpt/GPTDialect.h"
#include "dialects/gpt/GPTAttributes.h"
#include "dialects/gpt/GPTOps.h"

using namespace mlir;
using namespace mlir::gpt;

#include "dialects/gpt/GPTDialect.cpp.inc"
#include "dialects/gpt/GPTInterfaces.cpp.inc"

void GPTDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/gpt/GPTOps.cpp.inc"
      >();
  registerAttributes();
}
