//===- Optimizer.cpp - gradient accumulation and AdamW in the graph -------===//
#include "dialects/gpt/GPTAttributes.h"
#include "dialects/gpt/GPTOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::gpt {
#define GEN_PASS_DEF_GPTOPTIMIZER
#include "passes/Passes.h.inc"
} // namespace mlir::gpt

using namespace mlir;
using namespace mlir::gpt;

namespace {
constexpr int64_t kNumHparams = 9;

struct Param {
  unsigned arg; // index in @loss_grad
  std::string name;
  Type type;
  bool decay;
};

struct Signature {
  SmallVector<Type> types;
  SmallVector<std::pair<ArgRole, std::string>> roles; // role, name
  unsigned add(Type type, ArgRole role, StringRef name) {
    types.push_back(type);
    roles.push_back({role, name.str()});
    return types.size() - 1;
  }
};

func::FuncOp createFunction(ModuleOp module, Location loc, StringRef name,
                            const Signature &sig) {
  OpBuilder b(module.getContext());
  b.setInsertionPointToEnd(module.getBody());
  auto fn = b.create<func::FuncOp>(loc, name, b.getFunctionType(sig.types, {}));
  fn.addEntryBlock();
  for (unsigned i = 0; i < sig.roles.size(); ++i)
    setArgumentRole(fn, i, sig.roles[i].first, sig.roles[i].second);
  return fn;
}

void finish(func::FuncOp fn, OpBuilder &b, ArrayRef<Value> results,
            ArrayRef<std::string> names, ArrayRef<int> aliases) {
  b.create<func::ReturnOp>(fn.getLoc(), results);
  SmallVector<Type> types;
  for (Value v : results)
    types.push_back(v.getType());
  fn.setFunctionType(b.getFunctionType(fn.getArgumentTypes(), types));
  for (unsigned i = 0; i < results.size(); ++i) {
    setResultName(fn, i, names[i]);
    if (aliases[i] >= 0)
      setResultAliasedInput(fn, i, aliases[i]);
  }
}

/// train_grad(inputs..., grad_scale, params..., grad.<p>...) ->
///   loss, grad.<p> + grad_scale * dloss/dp   (in place)
void buildTrainGrad(ModuleOp module, func::FuncOp lossGrad,
                    ArrayRef<Param> params) {
  MLIRContext *ctx = module.getContext();
  Signature sig;
  IRMapping map;
  SmallVector<unsigned> inputArgs;
  for (unsigned i = 0; i < lossGrad.getNumArguments(); ++i)
    if (argumentRole(lossGrad, i) == ArgRole::Input)
      inputArgs.push_back(i);
  for (unsigned i : inputArgs)
    sig.add(lossGrad.getArgument(i).getType(), ArgRole::Input,
            argumentName(lossGrad, i));
  auto scalar = RankedTensorType::get({}, Float32Type::get(ctx));
  unsigned scaleArg = sig.add(scalar, ArgRole::Input, "grad_scale");
  SmallVector<unsigned> paramArgs, accArgs;
  for (const Param &p : params)
    paramArgs.push_back(sig.add(p.type, ArgRole::Param, p.name));
  for (const Param &p : params)
    accArgs.push_back(sig.add(p.type, ArgRole::State, "grad." + p.name));

  func::FuncOp fn =
      createFunction(module, lossGrad.getLoc(), "train_grad", sig);
  for (unsigned k = 0; k < params.size(); ++k)
    if (params[k].decay)
      setWeightDecay(fn, paramArgs[k]);
  for (unsigned k = 0; k < inputArgs.size(); ++k)
    map.map(lossGrad.getArgument(inputArgs[k]), fn.getArgument(k));
  for (unsigned k = 0; k < params.size(); ++k)
    map.map(lossGrad.getArgument(params[k].arg), fn.getArgument(paramArgs[k]));

  OpBuilder b = OpBuilder::atBlockEnd(&fn.getBody().front());
  Block &src = lossGrad.getBody().front();
  for (Operation &op : src.without_terminator())
    b.clone(op, map);
  auto ret = cast<func::ReturnOp>(src.getTerminator());
  Value gradScale = fn.getArgument(scaleArg);
  SmallVector<Value> results = {map.lookup(ret.getOperand(0))};
  SmallVector<std::string> names = {"loss"};
  SmallVector<int> aliases = {-1};
  for (unsigned k = 0; k < params.size(); ++k) {
    Value grad = map.lookup(ret.getOperand(1 + k));
    // Accumulate right where the gradient is complete, so its buffer is
    // freed at once instead of every gradient living until the end.
    OpBuilder here(fn.getContext());
    if (Operation *def = grad.getDefiningOp())
      here.setInsertionPointAfter(def);
    else
      here.setInsertionPointToStart(&fn.getBody().front());
    Value scaled = here.create<MulOp>(fn.getLoc(), grad, gradScale);
    Value acc = fn.getArgument(accArgs[k]);
    results.push_back(here.create<AddOp>(fn.getLoc(), acc, scaled));
    names.push_back("grad." + params[k].name);
    aliases.push_back(accArgs[k]);
  }
  b.setInsertionPointToEnd(&fn.getBody().front());
  finish(fn, b, results, names, aliases);
}

/// apply_optimizer(step (i32), hparams, params..., grad.<p>..., adam_m.<p>...,
///                 adam_v.<p>...) -> grad_norm, lr, params', m', v', 0-grads
void buildApplyOptimizer(ModuleOp module, Location loc,
                         ArrayRef<Param> params) {
  MLIRContext *ctx = module.getContext();
  auto f32 = Float32Type::get(ctx);
  auto scalar = RankedTensorType::get({}, f32);
  Signature sig;
  auto stepType = RankedTensorType::get({}, IntegerType::get(ctx, 32));
  unsigned stepArg = sig.add(stepType, ArgRole::Input, "step");
  unsigned hpArg = sig.add(RankedTensorType::get({kNumHparams}, f32),
                           ArgRole::Input, "hparams");
  SmallVector<unsigned> p, g, m, v;
  for (const Param &x : params)
    p.push_back(sig.add(x.type, ArgRole::Param, x.name));
  for (const Param &x : params)
    g.push_back(sig.add(x.type, ArgRole::State, "grad." + x.name));
  for (const Param &x : params)
    m.push_back(sig.add(x.type, ArgRole::State, "adam_m." + x.name));
  for (const Param &x : params)
    v.push_back(sig.add(x.type, ArgRole::State, "adam_v." + x.name));
  func::FuncOp fn = createFunction(module, loc, "apply_optimizer", sig);
  for (unsigned k = 0; k < params.size(); ++k)
    if (params[k].decay)
      setWeightDecay(fn, p[k]);

  OpBuilder b = OpBuilder::atBlockEnd(&fn.getBody().front());
  SmallVector<Value> grads;
  for (unsigned k : g)
    grads.push_back(fn.getArgument(k));
  Value norm = b.create<GlobalNormOp>(loc, scalar, grads);
  Value step = fn.getArgument(stepArg), hp = fn.getArgument(hpArg);
  Value lr = b.create<LrScheduleOp>(loc, scalar, step, hp);

  SmallVector<Value> results = {norm, lr};
  SmallVector<std::string> names = {"grad_norm", "lr"};
  SmallVector<int> aliases = {-1, -1};
  SmallVector<Value> newP, newM, newV, zeros;
  for (unsigned k = 0; k < params.size(); ++k) {
    auto update = b.create<AdamWOp>(
        loc, TypeRange{params[k].type, params[k].type, params[k].type},
        fn.getArgument(p[k]), fn.getArgument(g[k]), fn.getArgument(m[k]),
        fn.getArgument(v[k]), lr, norm, step, hp,
        params[k].decay ? b.getUnitAttr() : UnitAttr());
    newP.push_back(update.getNewParam());
    newM.push_back(update.getNewM());
    newV.push_back(update.getNewV());
    zeros.push_back(
        b.create<FillOp>(loc, params[k].type, b.getF32FloatAttr(0.0f)));
  }
  auto append = [&](ArrayRef<Value> values, ArrayRef<unsigned> args,
                    StringRef prefix) {
    for (unsigned k = 0; k < values.size(); ++k) {
      results.push_back(values[k]);
      names.push_back((prefix + params[k].name).str());
      aliases.push_back(args[k]);
    }
  };
  append(newP, p, "");
  append(newM, m, "adam_m.");
  append(newV, v, "adam_v.");
  append(zeros, g, "grad.");
  finish(fn, b, results, names, aliases);
}

/// The functions a rank of a sharded optimizer (ZeRO-1, docs/distributed.md)
/// runs instead of @apply_optimizer, which all compute exactly what it does:
///   @optimizer_scalars(step, hparams, grad.<p>...) -> grad_norm, lr
///   @apply_adamw.<p>(step, hparams, lr, grad_norm, p, grad.p, adam_m.p,
///                    adam_v.p) -> p', m', v'   (in place)
///   @zero_grads(grad.<p>...) -> zeros          (in place)
/// A rank updates only the parameters it owns, so it keeps only their
/// moments.
void buildShardedOptimizer(ModuleOp module, Location loc,
                           ArrayRef<Param> params) {
  MLIRContext *ctx = module.getContext();
  auto f32 = Float32Type::get(ctx);
  auto scalar = RankedTensorType::get({}, f32);
  auto stepType = RankedTensorType::get({}, IntegerType::get(ctx, 32));
  auto hpType = RankedTensorType::get({kNumHparams}, f32);
  {
    Signature sig;
    unsigned stepArg = sig.add(stepType, ArgRole::Input, "step");
    unsigned hpArg = sig.add(hpType, ArgRole::Input, "hparams");
    for (const Param &x : params)
      sig.add(x.type, ArgRole::State, "grad." + x.name);
    func::FuncOp fn = createFunction(module, loc, "optimizer_scalars", sig);
    OpBuilder b = OpBuilder::atBlockEnd(&fn.getBody().front());
    SmallVector<Value> grads;
    for (unsigned k = 0; k < params.size(); ++k)
      grads.push_back(fn.getArgument(2 + k));
    Value norm = b.create<GlobalNormOp>(loc, scalar, grads);
    Value lr = b.create<LrScheduleOp>(loc, scalar, fn.getArgument(stepArg),
                                      fn.getArgument(hpArg));
    finish(fn, b, {norm, lr}, {"grad_norm", "lr"}, {-1, -1});
  }
  for (const Param &x : params) {
    Signature sig;
    unsigned stepArg = sig.add(stepType, ArgRole::Input, "step");
    unsigned hpArg = sig.add(hpType, ArgRole::Input, "hparams");
    unsigned lrArg = sig.add(scalar, ArgRole::Input, "lr");
    unsigned normArg = sig.add(scalar, ArgRole::Input, "grad_norm");
    unsigned p = sig.add(x.type, ArgRole::Param, x.name);
    unsigned g = sig.add(x.type, ArgRole::State, "grad." + x.name);
    unsigned m = sig.add(x.type, ArgRole::State, "adam_m." + x.name);
    unsigned v = sig.add(x.type, ArgRole::State, "adam_v." + x.name);
    func::FuncOp fn = createFunction(module, loc, "apply_adamw." + x.name, sig);
    if (x.decay)
      setWeightDecay(fn, p);
    OpBuilder b = OpBuilder::atBlockEnd(&fn.getBody().front());
    auto update = b.create<AdamWOp>(
        loc, TypeRange{x.type, x.type, x.type}, fn.getArgument(p),
        fn.getArgument(g), fn.getArgument(m), fn.getArgument(v),
        fn.getArgument(lrArg), fn.getArgument(normArg), fn.getArgument(stepArg),
        fn.getArgument(hpArg), x.decay ? b.getUnitAttr() : UnitAttr());
    finish(fn, b, {update.getNewParam(), update.getNewM(), update.getNewV()},
           {x.name, "adam_m." + x.name, "adam_v." + x.name},
           {static_cast<int>(p), static_cast<int>(m), static_cast<int>(v)});
  }
  {
    Signature sig;
    for (const Param &x : params)
      sig.add(x.type, ArgRole::State, "grad." + x.name);
    func::FuncOp fn = createFunction(module, loc, "zero_grads", sig);
    OpBuilder b = OpBuilder::atBlockEnd(&fn.getBody().front());
    SmallVector<Value> zeros;
    SmallVector<std::string> names;
    SmallVector<int> aliases;
    for (unsigned k = 0; k < params.size(); ++k) {
      zeros.push_back(
          b.create<FillOp>(loc, params[k].type, b.getF32FloatAttr(0.0f)));
      names.push_back("grad." + params[k].name);
      aliases.push_back(k);
    }
    finish(fn, b, zeros, names, aliases);
  }
}

struct GPTOptimizerPass : mlir::gpt::impl::GPTOptimizerBase<GPTOptimizerPass> {
  using GPTOptimizerBase::GPTOptimizerBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto lossGrad = module.lookupSymbol<func::FuncOp>("loss_grad");
    if (!lossGrad) {
      module.emitError() << "--gpt-optimizer needs @loss_grad: run "
                            "--gpt-autodiff first";
      return signalPassFailure();
    }
    for (StringRef name :
         {"train_grad", "apply_optimizer", "optimizer_scalars", "zero_grads"})
      if (module.lookupSymbol(name)) {
        module.emitError() << "--gpt-optimizer: @" << name << " already exists";
        return signalPassFailure();
      }
    SmallVector<Param> params;
    for (unsigned i = 0; i < lossGrad.getNumArguments(); ++i)
      if (argumentRole(lossGrad, i) == ArgRole::Param)
        params.push_back({i, argumentName(lossGrad, i),
                          lossGrad.getArgument(i).getType(),
                          hasWeightDecay(lossGrad, i)});
    buildTrainGrad(module, lossGrad, params);
    buildApplyOptimizer(module, lossGrad.getLoc(), params);
    if (shardable)
      buildShardedOptimizer(module, lossGrad.getLoc(), params);
    lossGrad.erase();
  }
};
} // namespace
