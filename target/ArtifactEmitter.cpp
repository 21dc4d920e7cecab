//===- ArtifactEmitter.cpp - planned gpt module -> artifact bytes ---------===//
#include "target/ArtifactEmitter.h"
#include "dialects/gpt/GPTAttributes.h"
#include "dialects/gpt/GPTOps.h"
#include "passes/SymbolicShape.h"
#include "schema/ElementwiseProgram.h"
#include "schema/KernelRegistry.h"
#include "target/VulkanShaders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/CRC.h"
#include "llvm/Support/JSON.h"

using namespace mlir;
using namespace mlir::gpt;
namespace json = llvm::json;

namespace {
json::Array shapeOf(Type type) {
  json::Array shape;
  for (int64_t d : symbolicShape(cast<RankedTensorType>(type)))
    shape.push_back(d);
  return shape;
}

std::string dtypeOf(Type type) {
  Type element = cast<RankedTensorType>(type).getElementType();
  if (element.isF32())
    return "f32";
  if (element.isInteger(32))
    return "i32";
  return "";
}

/// One elementwise instruction for a body op; registers by value.
LogicalResult instruction(Operation *op, llvm::DenseMap<Value, int64_t> &reg,
                          json::Array &out) {
  json::Array args;
  for (Value v : op->getOperands())
    args.push_back(reg.lookup(v));
  using ::gpt::EwOp;
  std::optional<EwOp> ew;
  double param = 0.0;
  if (isa<AddOp>(op))
    ew = EwOp::Add;
  else if (isa<MulOp>(op))
    ew = EwOp::Mul;
  else if (auto scale = dyn_cast<ScaleOp>(op)) {
    ew = EwOp::Scale;
    param = scale.getFactor().convertToDouble();
  } else if (isa<GeluOp>(op))
    ew = EwOp::Gelu;
  else if (isa<GeluGradOp>(op))
    ew = EwOp::GeluGrad;
  else if (auto ln = dyn_cast<LayerNormOp>(op)) {
    ew = EwOp::LayerNorm;
    param = ln.getEpsilon().convertToDouble();
  } else
    return op->emitOpError() << "cannot be part of an elementwise program";
  // The format is schema/ElementwiseProgram.h.
  const ::gpt::EwOpInfo &info = ::gpt::ewOpInfo(*ew);
  json::Object inst;
  inst["op"] = info.name;
  if (info.param)
    inst[info.param] = param;
  inst["args"] = std::move(args);
  int64_t id = reg.size();
  for (Value r : op->getResults())
    reg[r] = id;
  out.push_back(std::move(inst));
  return success();
}

class FunctionEmitter {
public:
  /// `shaders`: the Vulkan target's shader cache (nullptr for cpu).
  FunctionEmitter(func::FuncOp fn, StringRef name, ElementwiseShaders *shaders)
      : fn(fn), name(name), shaders(shaders) {}

  LogicalResult run(json::Object &out) {
    json::Array inputs, outputs;
    if (failed(emitInputs(inputs)))
      return failure();
    Block &body = fn.getBody().front();
    for (Operation &op : body.without_terminator())
      if (failed(emitOp(&op)))
        return failure();
    if (failed(
            emitOutputs(cast<func::ReturnOp>(body.getTerminator()), outputs)))
      return failure();
    out["name"] = name;
    out["inputs"] = std::move(inputs);
    out["outputs"] = std::move(outputs);
    out["values"] = std::move(values);
    out["kernels"] = std::move(kernels);
    ArenaSizes arena = getArenaSizes(fn).value_or(ArenaSizes{});
    out["arena"] = json::Object{{"static_bytes", arena.staticBytes},
                                {"token_bytes", arena.tokenBytesPerToken}};
    return success();
  }

private:
  /// One value per argument, with its role and name.
  LogicalResult emitInputs(json::Array &inputs) {
    for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
      json::Object storage{{"kind", "input"}, {"index", i}};
      int64_t id = addValue(fn.getArgument(i), std::move(storage));
      if (ArrayRef<int64_t> symbols = argumentSymbols(fn, i);
          !symbols.empty()) {
        // Dims the type cannot name (the KV pool size N): explicit symbols.
        json::Array shape;
        for (int64_t d : symbols)
          shape.push_back(d);
        (*values.back().getAsObject())["shape"] = std::move(shape);
      }
      if (id < 0)
        return failure();
      std::optional<ArgRole> role = argumentRole(fn, i);
      if (!role)
        return fn.emitOpError() << "argument #" << i << " has no gpt role";
      inputs.push_back(json::Object{{"name", argumentName(fn, i)},
                                    {"role", roleName(*role)},
                                    {"value", id}});
    }
    return success();
  }

  /// The returned values; an in-place result that was not computed in
  /// place is written back into its argument.
  LogicalResult emitOutputs(func::ReturnOp ret, json::Array &outputs) {
    for (unsigned r = 0; r < ret.getNumOperands(); ++r) {
      Value v = ret.getOperand(r);
      json::Object output{{"name", outputName(r)}};
      std::optional<int64_t> alias = resultAliasedInput(fn, r);
      int64_t id = ids.lookup(v);
      if (alias) {
        int64_t arg = *alias;
        if (!isInPlace(v, arg))
          id = writeBack(v, arg);
        if (id < 0)
          return failure();
        output["alias_input"] = arg;
      }
      output["value"] = id;
      outputs.push_back(std::move(output));
    }
    return success();
  }

  std::string outputName(unsigned r) {
    if (fn.getResultAttr(r, attr::kOutput))
      return resultName(fn, r);
    if (fn.getName() == "forward")
      return "logits";
    if (fn.getName() == "loss")
      return "loss";
    return resultName(fn, r);
  }

  int64_t addValue(Value v, json::Object storage) {
    std::string dtype = dtypeOf(v.getType());
    if (dtype.empty()) {
      emitError(v.getLoc()) << "unsupported element type in " << v.getType();
      return -1;
    }
    int64_t id = values.size();
    values.push_back(json::Object{{"dtype", dtype},
                                  {"shape", shapeOf(v.getType())},
                                  {"storage", std::move(storage)}});
    if (v)
      ids[v] = id;
    return id;
  }

  int64_t addAliasOf(Type type, int64_t of) {
    int64_t id = values.size();
    values.push_back(
        json::Object{{"dtype", dtypeOf(type)},
                     {"shape", shapeOf(type)},
                     {"storage", json::Object{{"kind", "alias"}, {"of", of}}}});
    return id;
  }

  /// Whether v is argument `arg`'s memory: planned into it, or a view (an
  /// in-place all_reduce) of a value that is.
  bool isInPlace(Value v, int64_t arg) {
    Operation *def = v.getDefiningOp();
    SmallVector<SlotAttr> plan = def ? getPlan(def) : SmallVector<SlotAttr>();
    if (plan.empty())
      return false;
    SlotAttr slot = plan[cast<OpResult>(v).getResultNumber()];
    if (slot.getKind() == SlotKind::Alias && !isa<ReshapeOp>(def))
      return isInPlace(def->getOperand(slot.getOffset()), arg);
    return slot.getKind() == SlotKind::Input && slot.getOffset() == arg;
  }

  /// An in-place output that was not computed in place: fill (constants) or
  /// copy it into the argument's buffer after every other kernel.
  int64_t writeBack(Value v, int64_t arg) {
    int64_t target = addAliasOf(v.getType(), arg);
    Operation *def = v.getDefiningOp();
    std::optional<double> fill;
    if (auto f = dyn_cast_or_null<FillOp>(def))
      fill = f.getValue().convertToDouble();
    if (fill)
      kernels.push_back(
          json::Object{{"kernel", ::gpt::kernelName(::gpt::KernelId::Fill)},
                       {"inputs", json::Array{}},
                       {"outputs", json::Array{target}},
                       {"attrs", json::Object{{"value", *fill}}}});
    else
      kernels.push_back(
          json::Object{{"kernel", ::gpt::kernelName(::gpt::KernelId::Copy)},
                       {"inputs", json::Array{ids.lookup(v)}},
                       {"outputs", json::Array{target}},
                       {"attrs", json::Object{}}});
    return target;
  }

  LogicalResult emitOp(Operation *op) {
    std::optional<::gpt::KernelId> kernel = getKernel(op);
    SmallVector<SlotAttr> plan = getPlan(op);
    if (!kernel || plan.size() != op->getNumResults())
      return op->emitOpError()
             << "is not lowered and planned (run --gpt-lower-to-kernels and "
                "--gpt-plan-memory)";
    json::Array outs;
    for (auto [result, slot] : llvm::zip(op->getResults(), plan)) {
      SlotKind kind = slot.getKind();
      int64_t n = slot.getOffset();
      json::Object storage;
      if (kind == SlotKind::Static || kind == SlotKind::Token)
        storage = json::Object{{"kind", "arena"},
                               {"arena", stringifySlotKind(kind)},
                               {"offset", n}};
      else if (kind == SlotKind::Alias)
        storage = json::Object{{"kind", "alias"},
                               {"of", ids.lookup(op->getOperand(n))}};
      else if (kind == SlotKind::Input) {
        storage = json::Object{{"kind", "alias"}, {"of", n}};
        inPlaceOf[result] = n;
      } else      // SlotKind::None
        continue; // not materialized (written back by fill at the end)
      int64_t id = addValue(result, std::move(storage));
      if (id < 0)
        return failure();
      if (auto it = inPlaceOf.find(result); it != inPlaceOf.end())
        // Same bytes as the argument: same (possibly symbolic) shape.
        (*values.back().getAsObject())["shape"] =
            *(*values[it->second].getAsObject()).get("shape");
      outs.push_back(id);
    }
    if (*kernel == ::gpt::KernelId::Alias || outs.empty())
      return success();

    json::Array ins;
    for (Value v : op->getOperands())
      ins.push_back(ids.lookup(v));
    json::Object attrs;
    if (failed(kernelAttrs(op, ins, outs, attrs)))
      return failure();
    kernels.push_back(json::Object{{"kernel", ::gpt::kernelName(*kernel)},
                                   {"inputs", std::move(ins)},
                                   {"outputs", std::move(outs)},
                                   {"attrs", std::move(attrs)}});
    return success();
  }

  LogicalResult kernelAttrs(Operation *op, json::Array &ins, json::Array &outs,
                            json::Object &attrs) {
    auto flag = [](bool on) { return json::Value(on); };
    if (auto o = dyn_cast<LayerNormOp>(op))
      attrs["epsilon"] = o.getEpsilon().convertToDouble();
    else if (auto o = dyn_cast<LayerNormGradOp>(op))
      attrs["epsilon"] = o.getEpsilon().convertToDouble();
    else if (auto o = dyn_cast<LinearOp>(op)) {
      attrs["transpose_weight"] = flag(o.getTransposeWeight());
      if (!o.getBias())
        ins.push_back(-1);
    } else if (auto o = dyn_cast<LinearWeightGradOp>(op))
      attrs["transpose_weight"] = flag(o.getTransposeWeight());
    else if (auto o = dyn_cast<MatmulOp>(op)) {
      attrs["transpose_lhs"] = flag(o.getTransposeLhs());
      attrs["transpose_rhs"] = flag(o.getTransposeRhs());
    } else if (auto o = dyn_cast<SplitOp>(op))
      attrs["axis"] = static_cast<int64_t>(o.getAxis());
    else if (auto o = dyn_cast<ConcatOp>(op))
      attrs["axis"] = static_cast<int64_t>(o.getAxis());
    else if (auto o = dyn_cast<TransposeOp>(op)) {
      json::Array perm;
      for (int64_t p : o.getPermutation())
        perm.push_back(p);
      attrs["permutation"] = std::move(perm);
    } else if (auto o = dyn_cast<SoftmaxOp>(op))
      attrs["axis"] = o.getNormalizedAxis();
    else if (auto o = dyn_cast<SoftmaxGradOp>(op)) {
      int64_t axis = static_cast<int64_t>(o.getAxis());
      if (axis < 0)
        axis += o.getType().getRank();
      attrs["axis"] = axis;
    } else if (auto o = dyn_cast<ScaledMaskedSoftmaxOp>(op)) {
      attrs["scale"] = o.getScale().convertToDouble();
      attrs["causal"] = flag(o.getCausal());
    } else if (isa<CausalMaskOp>(op))
      attrs["fill"] = "-inf";
    else if (isa<CausalMaskGradOp>(op))
      attrs["fill"] = 0.0;
    else if (auto o = dyn_cast<AttentionOp>(op)) {
      attentionAttrs(attrs, o.getNumHeads(), o.getScale(), o.getCausal());
      outs.push_back(-1); // no lse needed for inference
    } else if (attentionAttrsOf<AttentionWithLseOp, AttentionGradOp,
                                AttentionQkvOp, AttentionQkvGradOp>(op,
                                                                    attrs)) {
      // (attention_qkv's lse is planned even where nothing reads it: a few
      // floats per token in the arena instead of kernel scratch.)
    } else if (auto o = dyn_cast<CrossEntropyOp>(op)) {
      if (!o.getWeights())
        ins.push_back(-1);
    } else if (auto o = dyn_cast<CrossEntropyGradOp>(op)) {
      if (!o.getWeights())
        ins.push_back(-1);
    } else if (auto o = dyn_cast<FillOp>(op))
      attrs["value"] = o.getValue().convertToDouble();
    else if (isa<ZerosLikeOp>(op)) {
      attrs["value"] = 0.0;
      ins.clear();
    } else if (auto o = dyn_cast<arith::ConstantOp>(op)) {
      auto dense = cast<DenseElementsAttr>(o.getValue());
      attrs["value"] = dense.getSplatValue<APFloat>().convertToDouble();
    } else if (auto o = dyn_cast<AdamWOp>(op)) {
      attrs["decay"] = flag(o.getDecay());
    } else if (auto o = dyn_cast<AllReduceOp>(op)) {
      attrs["reduction"] = stringifyReduction(o.getReduction()).str();
      attrs["group"] = o.getGroup().str();
    } else if (auto o = dyn_cast<PositionEmbeddingOp>(op)) {
      if (!o.getStart())
        ins.push_back(-1);
    } else if (auto o = dyn_cast<RopeOp>(op)) {
      if (!o.getStart())
        ins.push_back(-1);
      attrs["head_dim"] = o.getHeadDim();
      attrs["columns"] = o.getColumns();
      attrs["theta"] = o.getTheta().convertToDouble();
      attrs["inverse"] = flag(o.getInverse());
    } else if (auto o = dyn_cast<PagedAttentionOp>(op)) {
      attrs["num_heads"] = static_cast<int64_t>(o.getNumHeads());
      attrs["scale"] = o.getScale().convertToDouble();
    }
    if (getKernel(op) == ::gpt::KernelId::Elementwise) {
      if (failed(elementwiseProgram(op, attrs)))
        return failure();
      if (shaders)
        return shaders->attach(op, ins.size(), attrs);
    }
    return success();
  }

  static void attentionAttrs(json::Object &attrs, uint64_t heads,
                             llvm::APFloat scale, bool causal) {
    attrs["num_heads"] = static_cast<int64_t>(heads);
    attrs["scale"] = scale.convertToDouble();
    attrs["causal"] = causal;
  }

  /// attentionAttrs of `op` when it is one of `Ops` (all attention ops
  /// share num_heads, scale and causal); false otherwise.
  template <typename... Ops>
  static bool attentionAttrsOf(Operation *op, json::Object &attrs) {
    auto one = [&](auto typed) {
      if (!typed)
        return false;
      attentionAttrs(attrs, typed.getNumHeads(), typed.getScale(),
                     typed.getCausal());
      return true;
    };
    return (one(dyn_cast<Ops>(op)) || ...);
  }

  LogicalResult elementwiseProgram(Operation *op, json::Object &attrs) {
    llvm::DenseMap<Value, int64_t> reg;
    json::Array instructions, outputs;
    if (auto fusion = dyn_cast<FusionOp>(op)) {
      Block &body = fusion.getBody().front();
      for (BlockArgument arg : body.getArguments())
        reg[arg] = reg.size();
      for (Operation &inner : body.without_terminator())
        if (failed(instruction(&inner, reg, instructions)))
          return failure();
      for (Value v : body.getTerminator()->getOperands())
        outputs.push_back(reg.lookup(v));
    } else {
      for (Value v : op->getOperands())
        if (!reg.count(v))
          reg[v] = reg.size();
      if (failed(instruction(op, reg, instructions)))
        return failure();
      outputs.push_back(reg.lookup(op->getResult(0)));
      // Registers must follow operand order: rebuild args positionally.
      json::Array args;
      for (unsigned i = 0; i < op->getNumOperands(); ++i)
        args.push_back(static_cast<int64_t>(i));
      (*instructions.back().getAsObject())["args"] = std::move(args);
      outputs.back() = static_cast<int64_t>(op->getNumOperands());
    }
    attrs["program"] = json::Object{{"instructions", std::move(instructions)},
                                    {"outputs", std::move(outputs)}};
    return success();
  }

  func::FuncOp fn;
  std::string name;
  ElementwiseShaders *shaders;
  json::Array values, kernels;
  llvm::DenseMap<Value, int64_t> ids;
  llvm::DenseMap<Value, int64_t> inPlaceOf; // value -> argument it updates
};

void appendLE(std::string &out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}
} // namespace

LogicalResult mlir::gpt::emitArtifact(ModuleOp module,
                                      StringRef compilerVersion,
                                      std::string &bytes) {
  json::Object manifest;
  manifest["format"] = 1;
  manifest["compiler"] = compilerVersion;
  // gpt.target is verified by the dialect (cpu or vulkan).
  StringRef targetName = getTarget(module).value_or("cpu");
  manifest["target"] = targetName;
  ElementwiseShaders shaders;
  std::optional<StringRef> config = getModelConfig(module);
  if (!config)
    return module.emitError() << "module has no gpt.config";
  auto parsed = json::parse(*config);
  if (!parsed)
    return module.emitError()
           << "gpt.config is not JSON: " << llvm::toString(parsed.takeError());
  manifest["config"] = std::move(*parsed);
  json::Array functions;
  for (auto fn : module.getOps<func::FuncOp>()) {
    json::Object out;
    StringRef name = fn.getName() == "loss" ? "eval_loss" : fn.getName();
    if (failed(FunctionEmitter(fn, name,
                               targetName == "vulkan" ? &shaders : nullptr)
                   .run(out)))
      return failure();
    functions.push_back(std::move(out));
  }
  manifest["functions"] = std::move(functions);

  std::string payload;
  llvm::raw_string_ostream os(payload);
  os << json::Value(std::move(manifest));
  os.flush();
  bytes.clear();
  bytes.append("GPTART\0\1", 8);
  appendLE(bytes, 1, 4);
  appendLE(
      bytes,
      llvm::crc32(ArrayRef<uint8_t>(
          reinterpret_cast<const uint8_t *>(payload.data()), payload.size())),
      4);
  appendLE(bytes, payload.size(), 8);
  bytes += payload;
  return success();
}
