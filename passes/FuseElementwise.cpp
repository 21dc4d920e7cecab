//===- FuseElementwise.cpp - elementwise chains -> gpt.fusion -------------===//
//
// Clustering walks each block once, in order. An op joins the group of one of
// its producers when that keeps the program valid: the group is materialized
// where its last op stands, so no value of the group may have a user outside
// it that comes earlier. A gpt.layernorm may close a group (it reduces over
// rows, so nothing after it joins). Groups of one op are left alone.
//
//===----------------------------------------------------------------------===//
#include "dialects/gpt/GPTOps.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::gpt {
#define GEN_PASS_DEF_GPTFUSEELEMENTWISE
#include "passes/Passes.h.inc"
} // namespace mlir::gpt

using namespace mlir;
using namespace mlir::gpt;

namespace {
struct Group {
  SmallVector<Operation *> ops; // in block order
  bool closed = false;          // ends with a layernorm
};

class Clustering {
public:
  explicit Clustering(Block &block) : block(block) {}

  void run() {
    for (Operation &op : block) {
      if (!isFusible(&op))
        continue;
      int chosen = -1;
      for (Value operand : op.getOperands()) {
        auto it = groupOf.find(operand.getDefiningOp());
        if (it != groupOf.end() && canJoin(it->second, &op)) {
          chosen = it->second;
          break;
        }
      }
      if (chosen < 0) {
        if (!isElementwise(&op))
          continue; // a layernorm never starts a group
        chosen = groups.size();
        groups.emplace_back();
      }
      groups[chosen].ops.push_back(&op);
      groups[chosen].closed = isa<LayerNormOp>(op);
      groupOf[&op] = chosen;
    }
    for (Group &group : groups)
      if (group.ops.size() >= 2)
        materialize(group);
  }

private:
  bool inGroup(Operation *op, int group) const {
    auto it = groupOf.find(op);
    return it != groupOf.end() && it->second == group;
  }

  /// `candidate` (later in the block than every member) may join when the
  /// group is open and no member has an outside user before `candidate`.
  bool canJoin(int group, Operation *candidate) const {
    if (groups[group].closed)
      return false;
    for (Operation *member : groups[group].ops)
      for (Operation *user : member->getUsers()) {
        Operation *ancestor = block.findAncestorOpInBlock(*user);
        if (!ancestor || ancestor == candidate || inGroup(ancestor, group))
          continue;
        if (ancestor->isBeforeInBlock(candidate))
          return false;
      }
    return true;
  }

  void materialize(Group &group) {
    llvm::SmallPtrSet<Operation *, 8> members(group.ops.begin(),
                                              group.ops.end());
    llvm::SetVector<Value> inputs;
    SmallVector<Value> results;
    for (Operation *op : group.ops) {
      for (Value operand : op->getOperands())
        if (!members.contains(operand.getDefiningOp()))
          inputs.insert(operand);
      for (Value result : op->getResults())
        if (llvm::any_of(result.getUsers(), [&](Operation *user) {
              return !members.contains(block.findAncestorOpInBlock(*user));
            }))
          results.push_back(result);
    }
    if (results.empty())
      return; // dead chain: leave it to DCE

    Operation *last = group.ops.back();
    OpBuilder builder(last->getContext());
    builder.setInsertionPointAfter(last);
    SmallVector<Type> resultTypes;
    for (Value v : results)
      resultTypes.push_back(v.getType());
    auto fusion = builder.create<FusionOp>(last->getLoc(), resultTypes,
                                           inputs.getArrayRef());
    Block *body = builder.createBlock(&fusion.getBody());
    IRMapping mapping;
    for (Value input : inputs)
      mapping.map(input, body->addArgument(input.getType(), input.getLoc()));
    for (Operation *op : group.ops)
      builder.clone(*op, mapping);
    SmallVector<Value> yielded;
    for (Value v : results)
      yielded.push_back(mapping.lookup(v));
    builder.create<YieldOp>(last->getLoc(), yielded);

    for (auto [old, fused] : llvm::zip(results, fusion.getResults()))
      old.replaceUsesWithIf(fused, [&](OpOperand &use) {
        return !members.contains(block.findAncestorOpInBlock(*use.getOwner()));
      });
    for (Operation *op : llvm::reverse(group.ops)) {
      groupOf.erase(op);
      op->erase();
    }
  }

  Block &block;
  std::vector<Group> groups;
  llvm::DenseMap<Operation *, int> groupOf;
};

/// add(linear(x, W), b) with b : [N] and the linear used only here ->
/// linear(x, W) bias b. Runs after clustering, so only lone bias adds remain.
void foldBiasIntoLinear(AddOp add) {
  auto linear = add.getLhs().getDefiningOp<LinearOp>();
  if (!linear || linear.getBias() || !linear->hasOneUse() ||
      cast<RankedTensorType>(add.getRhs().getType()).getRank() != 1)
    return;
  // The bias must already be available where the linear stands.
  Operation *biasDef = add.getRhs().getDefiningOp();
  if (biasDef && biasDef->getBlock() == linear->getBlock() &&
      !biasDef->isBeforeInBlock(linear))
    return;
  OpBuilder builder(add);
  auto fused = builder.create<LinearOp>(
      linear.getLoc(), add.getType(), linear.getInput(), linear.getWeight(),
      add.getRhs(), linear.getTransposeWeightAttr());
  add.getResult().replaceAllUsesWith(fused.getResult());
  add.erase();
  linear.erase();
}

struct GPTFuseElementwisePass
    : mlir::gpt::impl::GPTFuseElementwiseBase<GPTFuseElementwisePass> {
  void runOnOperation() override {
    SmallVector<Block *> blocks;
    getOperation()->walk([&](Block *block) {
      if (!isa<FusionOp>(block->getParentOp()))
        blocks.push_back(block);
    });
    for (Block *block : blocks)
      Clustering(*block).run();
    SmallVector<AddOp> adds;
    getOperation()->walk([&](AddOp add) {
      if (!isa<FusionOp>(add->getParentOp()))
        adds.push_back(add);
    });
    for (AddOp add : adds)
      foldBiasIntoLinear(add);
  }
};
} // namespace
