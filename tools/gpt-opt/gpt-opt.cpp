//===- gpt-opt.cpp - mlir-opt with the gpt dialect and passes -------------===//
#include "dialects/gpt/GPTDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerTransformsPasses(); // canonicalize, cse, ...
  mlir::gpt::registerGPTPasses();
  mlir::gpt::registerDefaultPipeline();

  mlir::DialectRegistry registry;
  registry.insert<mlir::gpt::GPTDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "gpt optimizer driver\n", registry));
}
