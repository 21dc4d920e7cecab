//===- GPTBuilder.cpp - model config -> gpt dialect module ----------------===//
#include "frontend/GPTBuilder.h"
#include "dialects/gpt/GPTOps.h"
#include "runtime/model/Parameters.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringMap.h"

#include <cmath>

using namespace mlir;

namespace gpt {
namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

/// Emits the ops of one function. Locations name the layer and block
/// (e.g. "h.3.attn") so diagnostics and IR dumps point at the model part.
class ModelEmitter {
public:
  ModelEmitter(OpBuilder &b, const ModelConfig &c,
               const llvm::StringMap<Value> &params)
      : b(b), c(c), params(params), f32(b.getF32Type()) {}

  /// tokens [B, T] -> logits [B, T, V]
  Value logits(Value tokens) {
    at("embeddings");
    Value tok = b.create<mlir::gpt::EmbeddingOp>(
        loc, act(c.d_model), param("wte.weight"), tokens);
    Value pos = b.create<mlir::gpt::PositionEmbeddingOp>(
        loc, act(c.d_model), param("wpe.weight"), tokens);
    Value x = b.create<mlir::gpt::AddOp>(loc, tok, pos);
    for (int64_t i = 0; i < c.n_layer; ++i)
      x = block(x, "h." + std::to_string(i) + ".");
    at("ln_f");
    Value h = layerNorm(x, "ln_f.");
    at("lm_head");
    Value head = c.tie_embeddings ? param("wte.weight") : param("lm_head.weight");
    return b.create<mlir::gpt::LinearOp>(loc, act(c.vocab_size), h, head,
                                         Value(), b.getUnitAttr());
  }

private:
  RankedTensorType act(int64_t dim) {
    return RankedTensorType::get({kDyn, kDyn, dim}, f32);
  }
  RankedTensorType heads() {
    return RankedTensorType::get({kDyn, kDyn, c.n_head, c.headDim()}, f32);
  }
  RankedTensorType headsFirst(int64_t rows, int64_t cols) {
    return RankedTensorType::get({kDyn, c.n_head, rows, cols}, f32);
  }
  Value param(const std::string &name) { return params.lookup(name); }
  void at(const std::string &name) { loc = NameLoc::get(b.getStringAttr(name)); }

  Value layerNorm(Value x, const std::string &prefix) {
    return b.create<mlir::gpt::LayerNormOp>(
        loc, x.getType(), x, param(prefix + "weight"), param(prefix + "bias"),
        b.getF32FloatAttr(static_cast<float>(c.layernorm_eps)));
  }

  /// linear without bias followed by a separate bias add.
  Value linear(Value x, const std::string &prefix, int64_t out) {
    Value y = b.create<mlir::gpt::LinearOp>(loc, act(out), x,
                                            param(prefix + "weight"), Value(),
                                            UnitAttr());
    return b.create<mlir::gpt::AddOp>(loc, y, param(prefix + "bias"));
  }

  /// [B, T, D] -> [B, H, T, Dh]
  Value splitHeads(Value x) {
    Value r = b.create<mlir::gpt::ReshapeOp>(loc, heads(), x);
    return b.create<mlir::gpt::TransposeOp>(
        loc, headsFirst(kDyn, c.headDim()), r,
        b.getDenseI64ArrayAttr({0, 2, 1, 3}));
  }

  Value attention(Value x, const std::string &prefix) {
    const int64_t d = c.d_model;
    Value qkv = linear(x, prefix + "c_attn.", 3 * d);
    auto split = b.create<mlir::gpt::SplitOp>(
        loc, TypeRange{act(d), act(d), act(d)}, qkv, b.getI64IntegerAttr(2));
    Value q = splitHeads(split.getResult(0));
    Value k = splitHeads(split.getResult(1));
    Value v = splitHeads(split.getResult(2));
    Value scores = b.create<mlir::gpt::MatmulOp>(
        loc, headsFirst(kDyn, kDyn), q, k, UnitAttr(), b.getUnitAttr());
    float scale = 1.0f / std::sqrt(static_cast<float>(c.headDim()));
    scores = b.create<mlir::gpt::ScaleOp>(loc, scores, b.getF32FloatAttr(scale));
    scores = b.create<mlir::gpt::CausalMaskOp>(loc, scores);
    Value probs = b.create<mlir::gpt::SoftmaxOp>(loc, scores,
                                                 b.getI64IntegerAttr(3));
    Value out = b.create<mlir::gpt::MatmulOp>(
        loc, headsFirst(kDyn, c.headDim()), probs, v, UnitAttr(), UnitAttr());
    out = b.create<mlir::gpt::TransposeOp>(loc, heads(), out,
                                           b.getDenseI64ArrayAttr({0, 2, 1, 3}));
    out = b.create<mlir::gpt::ReshapeOp>(loc, act(d), out);
    return linear(out, prefix + "c_proj.", d);
  }

  Value block(Value x, const std::string &prefix) {
    at(prefix + "attn");
    Value a = attention(layerNorm(x, prefix + "ln_1."), prefix + "attn.");
    x = b.create<mlir::gpt::AddOp>(loc, x, a);
    at(prefix + "mlp");
    Value h = linear(layerNorm(x, prefix + "ln_2."), prefix + "mlp.c_fc.",
                     c.d_ff);
    h = b.create<mlir::gpt::GeluOp>(loc, h);
    h = linear(h, prefix + "mlp.c_proj.", c.d_model);
    return b.create<mlir::gpt::AddOp>(loc, x, h);
  }

  OpBuilder &b;
  const ModelConfig &c;
  const llvm::StringMap<Value> &params;
  Type f32;
  Location loc = UnknownLoc::get(b.getContext());
};

struct NamedInput {
  std::string name;
  Type type;
};

/// Creates `func @name(inputs..., params...)` and binds the params by name.
func::FuncOp createFunction(OpBuilder &b, ModuleOp module, StringRef name,
                            ArrayRef<NamedInput> inputs, Type result,
                            const ModelConfig &config,
                            llvm::StringMap<Value> &params) {
  std::vector<ParamSpec> specs = parameterSpecs(config);
  SmallVector<Type> argTypes;
  for (const NamedInput &in : inputs)
    argTypes.push_back(in.type);
  for (const ParamSpec &spec : specs)
    argTypes.push_back(RankedTensorType::get(spec.shape, b.getF32Type()));
  b.setInsertionPointToEnd(module.getBody());
  auto fn = b.create<func::FuncOp>(NameLoc::get(b.getStringAttr(name)), name,
                                   b.getFunctionType(argTypes, {result}));
  Block *entry = fn.addEntryBlock();
  for (size_t i = 0; i < inputs.size(); ++i)
    fn.setArgAttr(i, "gpt.input", b.getStringAttr(inputs[i].name));
  for (size_t i = 0; i < specs.size(); ++i) {
    unsigned arg = inputs.size() + i;
    fn.setArgAttr(arg, "gpt.param", b.getStringAttr(specs[i].name));
    if (specs[i].kind == ParamKind::Matrix)
      fn.setArgAttr(arg, "gpt.weight_decay", b.getUnitAttr());
    params[specs[i].name] = entry->getArgument(arg);
  }
  b.setInsertionPointToStart(entry);
  return fn;
}
} // namespace

OwningOpRef<ModuleOp> buildGPTModule(MLIRContext &context,
                                     const ModelConfig &config,
                                     const FrontendOptions &options) {
  context.loadDialect<mlir::gpt::GPTDialect, func::FuncDialect>();
  OpBuilder b(&context);
  Location loc = NameLoc::get(b.getStringAttr("gpt"));
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  auto tokenType = RankedTensorType::get({kDyn, kDyn}, i32);
  auto logitsType = RankedTensorType::get({kDyn, kDyn, config.vocab_size}, f32);
  auto scalar = RankedTensorType::get({}, f32);

  (*module)->setAttr("gpt.config",
                     b.getStringAttr(modelConfigToJson(config)));

  {
    llvm::StringMap<Value> params;
    createFunction(b, *module, "forward", {{"tokens", tokenType}}, logitsType,
                   config, params);
    Value logits = ModelEmitter(b, config, params).logits(
        b.getInsertionBlock()->getArgument(0));
    b.create<func::ReturnOp>(loc, logits);
  }
  {
    llvm::StringMap<Value> params;
    SmallVector<NamedInput> inputs = {{"tokens", tokenType},
                                      {"targets", tokenType}};
    if (options.weightedLoss)
      inputs.push_back({"weights", RankedTensorType::get({kDyn, kDyn}, f32)});
    createFunction(b, *module, "loss", inputs, scalar, config, params);
    Block *entry = b.getInsertionBlock();
    Value logits = ModelEmitter(b, config, params).logits(entry->getArgument(0));
    Value weights = options.weightedLoss ? entry->getArgument(2) : Value();
    Value loss = b.create<mlir::gpt::CrossEntropyOp>(
        NameLoc::get(b.getStringAttr("loss")), scalar, logits,
        entry->getArgument(1), weights);
    b.create<func::ReturnOp>(loc, loss);
  }
  return module;
}

} // namespace gpt
