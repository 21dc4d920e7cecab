//===- DataParallel.cpp - gradient all-reduce for data parallelism --------===//
//
// Each rank of a data-parallel job runs @train_grad on its own share of the
// batch; averaging the accumulated gradients over the ranks before the
// optimizer makes every rank take the same step. The reductions are
// bucketed in backward order, so that the first buckets (the last layers'
// gradients) can travel while the earlier layers' backward still runs.
//
//===----------------------------------------------------------------------===//
#include "dialects/gpt/GPTAttributes.h"
#include "dialects/gpt/GPTOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <algorithm>

namespace mlir::gpt {
#define GEN_PASS_DEF_GPTDATAPARALLEL
#include "passes/Passes.h.inc"
} // namespace mlir::gpt

using namespace mlir;
using namespace mlir::gpt;

namespace {
constexpr llvm::StringLiteral kTrainGrad = "train_grad";
constexpr llvm::StringLiteral kGradPrefix = "grad.";

/// A returned gradient accumulator: result `index` of the function.
struct Gradient {
  unsigned index;
  Value value;
  int64_t position; // of its defining op in the block
  int64_t bytes;
};

int64_t bytesOf(Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  return type.getNumElements() * ((type.getElementTypeBitWidth() + 7) / 8);
}

struct GPTDataParallelPass
    : mlir::gpt::impl::GPTDataParallelBase<GPTDataParallelPass> {
  using GPTDataParallelBase::GPTDataParallelBase;

  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (fn.getName() != kTrainGrad)
      return;
    if (bucketBytes <= 0) {
      fn.emitError() << "--gpt-data-parallel: bucket-bytes must be positive";
      return signalPassFailure();
    }
    Block &body = fn.getBody().front();
    if (!body.getOps<AllReduceOp>().empty()) {
      fn.emitError() << "@train_grad already reduces its gradients";
      return signalPassFailure();
    }
    llvm::DenseMap<Operation *, int64_t> position;
    for (Operation &op : body)
      position[&op] = position.size();

    auto ret = cast<func::ReturnOp>(body.getTerminator());
    SmallVector<Gradient> grads;
    for (unsigned r = 0; r < ret.getNumOperands(); ++r) {
      std::optional<int64_t> arg = resultAliasedInput(fn, r);
      if (!arg || argumentRole(fn, *arg) != ArgRole::State ||
          !StringRef(argumentName(fn, *arg)).starts_with(kGradPrefix))
        continue;
      Value v = ret.getOperand(r);
      Operation *def = v.getDefiningOp();
      if (!def) {
        fn.emitError() << "gradient result #" << r
                       << " is an argument, not a computed accumulator";
        return signalPassFailure();
      }
      grads.push_back({r, v, position[def], bytesOf(v)});
    }
    if (grads.empty()) {
      fn.emitError() << "@train_grad returns no gradient accumulators "
                        "(results written into grad.<param> arguments)";
      return signalPassFailure();
    }
    // Backward order: the order the accumulators are computed in.
    std::stable_sort(grads.begin(), grads.end(),
                     [](const Gradient &a, const Gradient &b) {
                       return a.position < b.position;
                     });
    SmallVector<Gradient> bucket;
    int64_t filled = 0;
    for (const Gradient &g : grads) {
      bucket.push_back(g);
      filled += g.bytes;
      if (filled >= bucketBytes || &g == &grads.back()) {
        reduce(ret, bucket);
        bucket.clear();
        filled = 0;
      }
    }
  }

  /// One all_reduce of `bucket`, right after its last gradient is computed;
  /// the return then reads the reduced values.
  void reduce(func::ReturnOp ret, ArrayRef<Gradient> bucket) {
    SmallVector<Value> values;
    for (const Gradient &g : bucket)
      values.push_back(g.value);
    OpBuilder b(ret.getContext());
    b.setInsertionPointAfter(bucket.back().value.getDefiningOp());
    auto reduced =
        b.create<AllReduceOp>(ret.getLoc(), values, Reduction::Mean, group);
    for (auto [i, g] : llvm::enumerate(bucket))
      ret.setOperand(g.index, reduced.getResult(i));
  }
};
} // namespace
