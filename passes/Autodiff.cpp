//===- Autodiff.cpp - reverse-mode differentiation of @loss ---------------===//
//
// 1. Clone @loss into @loss_grad and give attention a saved log-sum-exp.
// 2. Activity analysis: the values that depend on a parameter.
// 3. Sweep the forward ops last to first, asking each op's
//    DifferentiableOpInterface for its operands' gradients; a value used
//    several times gets the sum of its gradients.
// 4. Return the loss and one gradient per parameter, in argument order.
//
//===----------------------------------------------------------------------===//
#include "dialects/gpt/GPTAttributes.h"
#include "dialects/gpt/GPTOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::gpt {
#define GEN_PASS_DEF_GPTAUTODIFF
#include "passes/Passes.h.inc"
} // namespace mlir::gpt

using namespace mlir;
using namespace mlir::gpt;

namespace {
void useAttentionWithLse(func::FuncOp fn) {
  SmallVector<AttentionOp> attentions;
  fn.walk([&](AttentionOp op) { attentions.push_back(op); });
  for (AttentionOp op : attentions) {
    OpBuilder b(op);
    auto withLse = b.create<AttentionWithLseOp>(
        op.getLoc(), op.getQuery(), op.getKey(), op.getValue(),
        op.getNumHeadsAttr(), op.getScaleAttr(), op.getCausalAttr());
    op.getResult().replaceAllUsesWith(withLse.getResult());
    op.erase();
  }
}

class ReverseSweep {
public:
  ReverseSweep(func::FuncOp fn) : fn(fn) {}

  LogicalResult run() {
    Block &body = fn.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    if (ret.getNumOperands() != 1 ||
        cast<RankedTensorType>(ret.getOperand(0).getType()).getRank() != 0)
      return fn.emitOpError() << "must return exactly one scalar loss";

    for (unsigned i = 0; i < fn.getNumArguments(); ++i)
      if (argumentRole(fn, i) == ArgRole::Param)
        active.insert(fn.getArgument(i));
    SmallVector<Operation *> forward;
    for (Operation &op : body.without_terminator()) {
      if (isa<FusionOp>(op))
        return op.emitOpError()
               << "cannot be differentiated: run --gpt-autodiff before "
                  "--gpt-fuse-elementwise";
      forward.push_back(&op);
      if (llvm::any_of(op.getOperands(),
                       [&](Value v) { return active.contains(v); }))
        for (Value r : op.getResults())
          active.insert(r);
    }

    OpBuilder b(ret);
    Value loss = ret.getOperand(0);
    if (!active.contains(loss))
      return fn.emitOpError() << "the loss does not depend on any parameter";
    grads[loss] = b.create<arith::ConstantOp>(
        fn.getLoc(),
        DenseElementsAttr::get(
            cast<ShapedType>(loss.getType()),
            b.getFloatAttr(cast<ShapedType>(loss.getType()).getElementType(),
                           1.0)));

    for (Operation *op : llvm::reverse(forward)) {
      SmallVector<Value> resultGrads;
      bool any = false;
      for (Value r : op->getResults()) {
        resultGrads.push_back(grads.lookup(r));
        any |= bool(resultGrads.back());
      }
      if (!any)
        continue;
      auto rule = dyn_cast<DifferentiableOpInterface>(op);
      if (!rule)
        return op->emitOpError() << "has no gradient rule";
      SmallVector<Value> operandGrads;
      if (failed(rule.buildGradients(b, resultGrads, operandGrads)))
        return failure();
      for (auto [operand, grad] : llvm::zip(op->getOperands(), operandGrads))
        if (grad && active.contains(operand))
          accumulate(b, operand, grad);
    }

    SmallVector<Value> results = {loss};
    SmallVector<std::string> names = {"loss"};
    for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
      if (argumentRole(fn, i) != ArgRole::Param)
        continue;
      Value arg = fn.getArgument(i);
      Value grad = grads.lookup(arg);
      if (!grad) // a parameter the loss ignores: its gradient is zero
        grad = b.create<FillOp>(fn.getLoc(), arg.getType(),
                                b.getF32FloatAttr(0.0f));
      results.push_back(grad);
      names.push_back("grad." + argumentName(fn, i));
    }
    b.create<func::ReturnOp>(ret.getLoc(), results);
    ret.erase();
    SmallVector<Type> types;
    for (Value v : results)
      types.push_back(v.getType());
    fn.setFunctionType(b.getFunctionType(fn.getArgumentTypes(), types));
    for (unsigned i = 0; i < names.size(); ++i)
      setResultName(fn, i, names[i]);
    return success();
  }

private:
  void accumulate(OpBuilder &b, Value v, Value grad) {
    auto it = grads.find(v);
    if (it == grads.end()) {
      grads[v] = grad;
      return;
    }
    it->second = b.create<AddOp>(grad.getLoc(), it->second, grad);
  }

  func::FuncOp fn;
  llvm::DenseSet<Value> active;
  llvm::DenseMap<Value, Value> grads;
};

struct GPTAutodiffPass : mlir::gpt::impl::GPTAutodiffBase<GPTAutodiffPass> {
  using GPTAutodiffBase::GPTAutodiffBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fn = module.lookupSymbol<func::FuncOp>(source);
    if (!fn) {
      module.emitError() << "--gpt-autodiff: no function @" << source;
      return signalPassFailure();
    }
    if (module.lookupSymbol(target)) {
      module.emitError() << "--gpt-autodiff: @" << target << " already exists";
      return signalPassFailure();
    }
    func::FuncOp grad = fn.clone();
    grad.setName(target);
    module.push_back(grad);
    useAttentionWithLse(grad);
    if (failed(ReverseSweep(grad).run()))
      return signalPassFailure();
  }
};
} // namespace
