//===- PlanMemory.cpp - liveness-based arena placement --------------------===//
//
// Linear scan over the ops of each function (single block, kernels run in
// op order). Each value that owns memory gets an interval [def, last use];
// aliases (reshape views) extend the interval of the value they view.
// Placement is first-fit in a free list per arena.
//
//===----------------------------------------------------------------------===//
#include "dialects/gpt/GPTAttributes.h"
#include "dialects/gpt/GPTOps.h"
#include "passes/Passes.h"
#include "passes/SymbolicShape.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

namespace mlir::gpt {
#define GEN_PASS_DEF_GPTPLANMEMORY
#include "passes/Passes.h.inc"
} // namespace mlir::gpt

using namespace mlir;
using namespace mlir::gpt;

namespace {
constexpr int64_t kAlign = 64; // bytes, or bytes per token

int64_t alignUp(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

/// First-fit allocator over one arena, with coalescing of freed blocks.
class Arena {
public:
  int64_t allocate(int64_t size) {
    size = alignUp(std::max<int64_t>(size, 1));
    for (auto it = free.begin(); it != free.end(); ++it) {
      if (it->second < size)
        continue;
      int64_t offset = it->first, left = it->second - size;
      free.erase(it);
      if (left)
        free[offset + size] = left;
      return offset;
    }
    // Grow: extend a free block that touches the end, else append.
    int64_t offset = top;
    if (!free.empty()) {
      auto last = std::prev(free.end());
      if (last->first + last->second == top) {
        offset = last->first;
        free.erase(last);
      }
    }
    top = std::max(top, offset + size);
    return offset;
  }

  void release(int64_t offset, int64_t size) {
    size = alignUp(std::max<int64_t>(size, 1));
    auto [it, inserted] = free.emplace(offset, size);
    (void)inserted;
    auto next = std::next(it);
    if (next != free.end() && it->first + it->second == next->first) {
      it->second += next->second;
      free.erase(next);
    }
    if (it != free.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        free.erase(it);
      }
    }
  }

  int64_t peak() const { return top; }

private:
  std::map<int64_t, int64_t> free; // offset -> size
  int64_t top = 0;
};

using Kind = SlotKind;

struct Slot {
  Kind kind = Kind::None;
  int64_t offset = 0; // Static/Token; operand index (Alias); arg (Input)
  int64_t size = 0;   // bytes, or bytes per token
  Value root;         // the value owning the memory (for aliases)
};

/// The operand whose memory result `r` of `op` is (a view: no memory of
/// its own): a reshape views operand 0, an all_reduce reduces each operand
/// in place.
std::optional<unsigned> viewedOperand(Operation *op, unsigned r) {
  if (isa<ReshapeOp>(op))
    return 0u;
  if (isa<AllReduceOp>(op))
    return r;
  return std::nullopt;
}

bool isElementwiseKernel(Operation *op) {
  return getKernel(op) == ::gpt::KernelId::Elementwise;
}

class FunctionPlanner {
public:
  explicit FunctionPlanner(func::FuncOp fn) : fn(fn) {}

  LogicalResult run() {
    Block &body = fn.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    for (Operation &op : body)
      order[&op] = order.size();
    claimInPlaceOutputs(ret);
    computeLiveness(body);

    for (Operation &op : body.without_terminator()) {
      int64_t index = order[&op];
      // An elementwise kernel may overwrite a same-shaped operand dying here.
      SmallVector<Value> dying;
      for (Value operand : op.getOperands())
        if (Value root = rootOf(operand);
            root && lastUse(root) == index && !llvm::is_contained(dying, root))
          dying.push_back(root);
      SmallVector<Value> reused;
      for (Value result : op.getResults()) {
        if (failed(place(&op, result, dying, reused)))
          return failure();
      }
      for (Value root : dying)
        if (!llvm::is_contained(reused, root))
          release(root);
      for (Value result : op.getResults())
        if (Value root = rootOf(result); root == result && result.use_empty())
          release(result);
      SmallVector<SlotAttr> plan;
      for (Value result : op.getResults())
        plan.push_back(describe(result));
      setPlan(&op, plan);
    }
    setArenaSizes(fn, {arenas[0].peak(), arenas[1].peak()});
    return success();
  }

private:
  /// Results returned with gpt.alias_input that an elementwise or AdamW op
  /// can write straight into the argument's buffer.
  void claimInPlaceOutputs(func::ReturnOp ret) {
    for (unsigned r = 0; r < ret.getNumOperands(); ++r) {
      std::optional<int64_t> alias = resultAliasedInput(fn, r);
      if (!alias)
        continue;
      Value v = ret.getOperand(r);
      // An all_reduce reduces in place: the value to place is its operand.
      while (auto reduce = v.getDefiningOp<AllReduceOp>())
        v = reduce.getOperand(cast<OpResult>(v).getResultNumber());
      Operation *def = v.getDefiningOp();
      BlockArgument arg = fn.getArgument(*alias);
      // Later readers of v read the argument's buffer, which now holds v;
      // what must not exist is a later reader of the argument's old value.
      if (!def || inPlaceTaken.count(*alias) || v.getType() != arg.getType() ||
          inPlace.count(v) ||
          !(isElementwiseKernel(def) || isa<AdamWOp, KVCacheWriteOp>(def)) ||
          !llvm::is_contained(def->getOperands(), Value(arg)))
        continue; // the emitter copies (or fills) it at the end
      if (readAfter(arg, order[def]))
        continue;
      inPlace[v] = *alias;
      inPlaceTaken.insert(*alias);
    }
  }

  /// Whether an op after position `pos` reads `v`'s buffer: directly, or
  /// through a reshape (a view of the same memory), however deep.
  bool readAfter(Value v, int64_t pos) {
    Block &body = fn.getBody().front();
    for (Operation *user : v.getUsers()) {
      if (order[body.findAncestorOpInBlock(*user)] > pos)
        return true;
      if (isa<ReshapeOp, AllReduceOp>(user))
        for (Value view : user->getResults())
          if (readAfter(view, pos))
            return true;
    }
    return false;
  }

  /// Roots (the value owning the memory; reshapes view their operand's) and
  /// the index of the last op that reads each root through any view.
  void computeLiveness(Block &body) {
    for (Operation &op : body.without_terminator())
      for (Value result : op.getResults()) {
        Value root = result;
        if (std::optional<unsigned> viewed =
                viewedOperand(&op, cast<OpResult>(result).getResultNumber()))
          root = rootOf(op.getOperand(*viewed)); // null: views an argument
        roots[result] = root;
        if (!root)
          continue;
        int64_t last = order[&op];
        for (Operation *user : result.getUsers())
          last = std::max(last, order[body.findAncestorOpInBlock(*user)]);
        lastUseOf[root] = std::max(lastUse(root), last);
      }
  }

  /// Every use is an in-place (gpt.alias_input) function result.
  bool onlyWrittenBack(Value v) {
    for (OpOperand &use : v.getUses())
      if (!isa<func::ReturnOp>(use.getOwner()) ||
          !resultAliasedInput(fn, use.getOperandNumber()))
        return false;
    return !v.use_empty();
  }

  Value rootOf(Value v) { return roots.lookup(v); }

  int64_t lastUse(Value root) {
    auto it = lastUseOf.find(root);
    return it == lastUseOf.end() ? -1 : it->second;
  }

  LogicalResult place(Operation *op, Value result, ArrayRef<Value> dying,
                      SmallVectorImpl<Value> &reused) {
    auto type = cast<RankedTensorType>(result.getType());
    Slot slot;
    if (auto it = inPlace.find(result); it != inPlace.end()) {
      slot.kind = Kind::Input;
      slot.offset = it->second;
      slots[result] = slot; // no root: the caller owns the memory
      return success();
    }
    if (isa<FillOp>(op) && onlyWrittenBack(result)) {
      slot.kind = Kind::None; // the emitter fills the caller's buffers
      slots[result] = slot;
      return success();
    }
    if (std::optional<unsigned> viewed =
            viewedOperand(op, cast<OpResult>(result).getResultNumber())) {
      slot.kind = Kind::Alias;
      slot.offset = *viewed;
      slot.root = rootOf(op->getOperand(*viewed));
      slots[result] = slot;
      return success();
    }
    if (isa<KVCacheWriteOp>(op))
      return op->emitOpError() << "must update its cache in place (return "
                                  "it with gpt.alias_input of the cache)";
    std::optional<int64_t> perToken = elementsPerToken(type);
    int elementBytes = (type.getElementTypeBitWidth() + 7) / 8;
    if (perToken) {
      slot.kind = Kind::Token;
      slot.size = *perToken * elementBytes;
    } else if (type.hasStaticShape()) {
      slot.kind = Kind::Static;
      slot.size = staticBytes(type);
    } else {
      return op->emitOpError()
             << "cannot plan a result of type " << type
             << ": its size is not linear in batch x sequence (fuse "
                "attention before planning memory)";
    }
    slot.root = result;
    // Reuse a dying same-typed operand's memory for an elementwise kernel.
    if (isElementwiseKernel(op))
      for (Value root : dying) {
        Slot &other = slots[root];
        if (llvm::is_contained(reused, root) || other.kind != slot.kind ||
            other.size != slot.size || root.getType() != result.getType() ||
            !llvm::is_contained(op->getOperands(), root))
          continue;
        slot.offset = other.offset;
        reused.push_back(root);
        slots[result] = slot;
        return success();
      }
    slot.offset = arenaOf(slot.kind).allocate(slot.size);
    slots[result] = slot;
    return success();
  }

  Arena &arenaOf(Kind kind) { return arenas[kind == Kind::Token ? 1 : 0]; }

  void release(Value root) {
    Slot &slot = slots[root];
    if (slot.kind == Kind::Static || slot.kind == Kind::Token)
      arenaOf(slot.kind).release(slot.offset, slot.size);
  }

  /// The #gpt.slot of a result: arena offsets for owned memory; aliases
  /// name the operand they view; in-place results name their argument.
  SlotAttr describe(Value result) {
    const Slot &slot = slots[result];
    bool hasOffset = slot.kind != Kind::None;
    return SlotAttr::get(fn.getContext(), slot.kind,
                         hasOffset ? slot.offset : 0);
  }

  func::FuncOp fn;
  llvm::DenseMap<Operation *, int64_t> order;
  llvm::DenseMap<Value, Slot> slots;
  llvm::DenseMap<Value, Value> roots;
  llvm::DenseMap<Value, int64_t> lastUseOf;
  llvm::DenseMap<Value, int64_t> inPlace;
  llvm::DenseSet<int64_t> inPlaceTaken;
  Arena arenas[2];
};

struct GPTPlanMemoryPass
    : mlir::gpt::impl::GPTPlanMemoryBase<GPTPlanMemoryPass> {
  using GPTPlanMemoryBase::GPTPlanMemoryBase;
  void runOnOperation() override {
    if (failed(FunctionPlanner(getOperation()).run()))
      return signalPassFailure();
  }
};
} // namespace
