//===- GPTInterfaces.td - interfaces of the gpt dialect ---*- tablegen -*-===//
#ifndef GPT_INTERFACES_TD
#define GPT_INTERFACES_TD

include "mlir/IR/OpBase.td"

def GPT_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let description = [{
    An op that knows its reverse-mode gradient rule. `--gpt-autodiff` calls
    `buildGradients` on each op of the function, last to first, with the
    gradients of the op's results (a null Value means "zero"); the op emits
    the ops computing its operands' gradients at the builder's insertion
    point and stores them in `operandGrads` (null for operands without a
    gradient, such as token ids).
  }];
  let cppNamespace = "::mlir::gpt";
  let methods = [
    InterfaceMethod<
      "Emits the gradient computation of the operands.",
      "::mlir::LogicalResult", "buildGradients",
      (ins "::mlir::OpBuilder &":$builder,
           "::mlir::ArrayRef<::mlir::Value>":$resultGrads,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>
  ];
}

#endif
