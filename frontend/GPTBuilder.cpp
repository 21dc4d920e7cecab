//===- GPTBuilder.cpp - model config -> gpt dialect module ----------------===//
#include "frontend/GPTBuilder.h"
#include "dialects/gpt/GPTAttributes.h"
#include "dialects/gpt/GPTOps.h"
#include "schema/Parameters.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringMap.h"

#include <cmath>

using namespace mlir;
using mlir::gpt::ArgRole;
using mlir::gpt::setArgumentRole;
using mlir::gpt::setArgumentSymbols;
using mlir::gpt::setModelConfig;
using mlir::gpt::setResultAliasedInput;
using mlir::gpt::setResultName;
using mlir::gpt::setWeightDecay;

namespace gpt {
namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

/// Emits the ops of one function. Locations name the layer and block
/// (e.g. "h.3.attn") so diagnostics and IR dumps point at the model part.
/// The paged KV cache of an inference function: per layer a key and a
/// value pool [N, block, D], the block tables [B, NB] and the start
/// positions [B]. Attention writes the new keys/values and reads through it.
struct KVCache {
  Value blockTable, start;
  SmallVector<Value> keys, values;       // per layer, the function arguments
  SmallVector<Value> newKeys, newValues; // per layer, the updated caches
};

class ModelEmitter {
public:
  ModelEmitter(OpBuilder &b, const ModelConfig &c,
               const llvm::StringMap<Value> &params, KVCache *kv = nullptr)
      : b(b), c(c), params(params), kv(kv), f32(b.getF32Type()) {}

  /// tokens [B, T] -> logits [B, T, V], or [B, V] for the last position
  /// when generating with a KV cache.
  Value logits(Value tokens) {
    at("embeddings");
    Value x =
        b.create<mlir::gpt::EmbeddingOp>(loc, param("wte.weight"), tokens);
    if (!c.rope) { // RoPE puts positions into the queries and keys instead
      Value pos = b.create<mlir::gpt::PositionEmbeddingOp>(
          loc, param("wpe.weight"), tokens, kv ? kv->start : Value());
      x = b.create<mlir::gpt::AddOp>(loc, x, pos);
    }
    for (int64_t i = 0; i < c.n_layer; ++i)
      x = block(x, i);
    at("ln_f");
    Value h = layerNorm(x, "ln_f.");
    at("lm_head");
    Value head =
        c.tie_embeddings ? param("wte.weight") : param("lm_head.weight");
    if (kv) // generation: logits of the last position only
      h = b.create<mlir::gpt::TakeLastOp>(loc, h);
    // The head is [V, D] (wte's layout, tied or not): transposed weight.
    return b.create<mlir::gpt::LinearOp>(loc, h, head, Value(),
                                         /*transposeWeight=*/true);
  }

private:
  /// [B, T, dim]: the one type reshape cannot infer.
  RankedTensorType act(int64_t dim) {
    return RankedTensorType::get({kDyn, kDyn, dim}, f32);
  }
  RankedTensorType heads() {
    return RankedTensorType::get({kDyn, kDyn, c.n_head, c.headDim()}, f32);
  }
  Value param(const std::string &name) { return params.lookup(name); }
  void at(const std::string &name) {
    loc = NameLoc::get(b.getStringAttr(name));
  }

  Value layerNorm(Value x, const std::string &prefix) {
    return b.create<mlir::gpt::LayerNormOp>(
        loc, x, param(prefix + "weight"), param(prefix + "bias"),
        static_cast<float>(c.layernorm_eps));
  }

  /// linear without bias followed by a separate bias add.
  Value linear(Value x, const std::string &prefix, int64_t out) {
    Value y = b.create<mlir::gpt::LinearOp>(loc, x, param(prefix + "weight"),
                                            Value(), /*transposeWeight=*/false);
    return b.create<mlir::gpt::AddOp>(loc, y, param(prefix + "bias"));
  }

  /// [B, T, D] -> [B, H, T, Dh]
  Value splitHeads(Value x) {
    Value r = b.create<mlir::gpt::ReshapeOp>(loc, heads(), x);
    return b.create<mlir::gpt::TransposeOp>(loc, r,
                                            ArrayRef<int64_t>{0, 2, 1, 3});
  }

  Value attention(Value x, const std::string &prefix, int64_t layer) {
    const int64_t d = c.d_model;
    Value qkv = linear(x, prefix + "c_attn.", 3 * d);
    if (c.rope) // rotate q and k (the first 2d columns) by their positions
      qkv = b.create<mlir::gpt::RopeOp>(loc, qkv, kv ? kv->start : Value(),
                                        c.headDim(), 2 * d,
                                        static_cast<float>(c.rope_theta),
                                        /*inverse=*/false);
    auto split = b.create<mlir::gpt::SplitOp>(loc, qkv, /*axis=*/2, 3u);
    if (kv)
      return linear(cachedAttention(split, layer), prefix + "c_proj.", d);
    Value q = splitHeads(split.getResult(0));
    Value k = splitHeads(split.getResult(1));
    Value v = splitHeads(split.getResult(2));
    Value scores = b.create<mlir::gpt::MatmulOp>(loc, q, k, false, true);
    float scale = 1.0f / std::sqrt(static_cast<float>(c.headDim()));
    scores =
        b.create<mlir::gpt::ScaleOp>(loc, scores, b.getF32FloatAttr(scale));
    scores = b.create<mlir::gpt::CausalMaskOp>(loc, scores);
    Value probs =
        b.create<mlir::gpt::SoftmaxOp>(loc, scores, b.getI64IntegerAttr(3));
    Value out = b.create<mlir::gpt::MatmulOp>(loc, probs, v, false, false);
    out = b.create<mlir::gpt::TransposeOp>(loc, out,
                                           ArrayRef<int64_t>{0, 2, 1, 3});
    out = b.create<mlir::gpt::ReshapeOp>(loc, act(d), out);
    return linear(out, prefix + "c_proj.", d);
  }

  /// Inference: append K and V to the paged cache, attend through it.
  Value cachedAttention(mlir::gpt::SplitOp split, int64_t layer) {
    Value k = b.create<mlir::gpt::KVCacheWriteOp>(
        loc, kv->keys[layer], split.getResult(1), kv->blockTable, kv->start);
    Value v = b.create<mlir::gpt::KVCacheWriteOp>(
        loc, kv->values[layer], split.getResult(2), kv->blockTable, kv->start);
    kv->newKeys.push_back(k);
    kv->newValues.push_back(v);
    float scale = 1.0f / std::sqrt(static_cast<float>(c.headDim()));
    return b.create<mlir::gpt::PagedAttentionOp>(loc, split.getResult(0), k, v,
                                                 kv->blockTable, kv->start,
                                                 c.n_head, scale);
  }

  Value block(Value x, int64_t layer) {
    const std::string prefix = "h." + std::to_string(layer) + ".";
    at(prefix + "attn");
    Value a =
        attention(layerNorm(x, prefix + "ln_1."), prefix + "attn.", layer);
    x = b.create<mlir::gpt::AddOp>(loc, x, a);
    at(prefix + "mlp");
    Value h =
        linear(layerNorm(x, prefix + "ln_2."), prefix + "mlp.c_fc.", c.d_ff);
    h = b.create<mlir::gpt::GeluOp>(loc, h);
    h = linear(h, prefix + "mlp.c_proj.", c.d_model);
    return b.create<mlir::gpt::AddOp>(loc, x, h);
  }

  OpBuilder &b;
  const ModelConfig &c;
  const llvm::StringMap<Value> &params;
  KVCache *kv;
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
                            llvm::StringMap<Value> &params,
                            ArrayRef<NamedInput> states = {}) {
  std::vector<ParamSpec> specs = parameterSpecs(config);
  SmallVector<Type> argTypes;
  for (const NamedInput &in : inputs)
    argTypes.push_back(in.type);
  for (const ParamSpec &spec : specs)
    argTypes.push_back(RankedTensorType::get(spec.shape, b.getF32Type()));
  for (const NamedInput &state : states)
    argTypes.push_back(state.type);
  b.setInsertionPointToEnd(module.getBody());
  auto fn = b.create<func::FuncOp>(NameLoc::get(b.getStringAttr(name)), name,
                                   b.getFunctionType(argTypes, {result}));
  Block *entry = fn.addEntryBlock();
  for (size_t i = 0; i < inputs.size(); ++i)
    setArgumentRole(fn, i, ArgRole::Input, inputs[i].name);
  for (size_t i = 0; i < specs.size(); ++i) {
    unsigned arg = inputs.size() + i;
    setArgumentRole(fn, arg, ArgRole::Param, specs[i].name);
    if (specs[i].kind == ParamKind::Matrix)
      setWeightDecay(fn, arg);
    params[specs[i].name] = entry->getArgument(arg);
  }
  for (size_t i = 0; i < states.size(); ++i)
    setArgumentRole(fn, inputs.size() + specs.size() + i, ArgRole::State,
                    states[i].name);
  b.setInsertionPointToStart(entry);
  return fn;
}

/// prefill/decode(tokens [B,T], start [B], block_table [B,NB], params...,
/// kv.<l>.k, kv.<l>.v [N, block, D]...) -> logits [B, V] of the last
/// position, and the updated caches (in place). One body serves both:
/// prefill feeds a prompt (T > 1), decode one token per sequence (T = 1).
void buildGenerationFunction(OpBuilder &b, ModuleOp module, StringRef name,
                             const ModelConfig &config,
                             const FrontendOptions &options) {
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  const int64_t block = options.kvBlockSize;
  const int64_t tableSize = (config.context_length + block - 1) / block;
  SmallVector<NamedInput> inputs = {
      {"tokens", RankedTensorType::get({kDyn, kDyn}, i32)},
      {"start", RankedTensorType::get({kDyn}, i32)},
      {"block_table", RankedTensorType::get({kDyn, tableSize}, i32)}};
  auto cacheType = RankedTensorType::get({kDyn, block, config.d_model}, f32);
  SmallVector<NamedInput> states;
  for (int64_t l = 0; l < config.n_layer; ++l)
    for (const char *kind : {"k", "v"})
      states.push_back({"kv." + std::to_string(l) + "." + kind, cacheType});
  llvm::StringMap<Value> params;
  func::FuncOp fn =
      createFunction(b, module, name, inputs,
                     RankedTensorType::get({kDyn, config.vocab_size}, f32),
                     config, params, states);
  Block *entry = b.getInsertionBlock();
  const unsigned firstState = inputs.size() + parameterSpecs(config).size();
  KVCache kv;
  kv.start = entry->getArgument(1);
  kv.blockTable = entry->getArgument(2);
  for (int64_t l = 0; l < config.n_layer; ++l) {
    kv.keys.push_back(entry->getArgument(firstState + 2 * l));
    kv.values.push_back(entry->getArgument(firstState + 2 * l + 1));
    for (unsigned k = 0; k < 2; ++k)
      // The cache's leading dim is the pool size N, bound by the caller.
      setArgumentSymbols(fn, firstState + 2 * l + k,
                         {-3, block, config.d_model});
  }
  Value logits =
      ModelEmitter(b, config, params, &kv).logits(entry->getArgument(0));
  SmallVector<Value> results = {logits};
  for (int64_t l = 0; l < config.n_layer; ++l) {
    results.push_back(kv.newKeys[l]);
    results.push_back(kv.newValues[l]);
  }
  b.create<func::ReturnOp>(fn.getLoc(), results);
  SmallVector<Type> types;
  for (Value v : results)
    types.push_back(v.getType());
  fn.setFunctionType(b.getFunctionType(fn.getArgumentTypes(), types));
  setResultName(fn, 0, "logits");
  for (size_t i = 0; i < states.size(); ++i) {
    setResultName(fn, 1 + i, states[i].name);
    setResultAliasedInput(fn, 1 + i, firstState + i);
  }
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

  setModelConfig(*module, modelConfigToJson(config));

  {
    llvm::StringMap<Value> params;
    createFunction(b, *module, "forward", {{"tokens", tokenType}}, logitsType,
                   config, params);
    Value logits = ModelEmitter(b, config, params)
                       .logits(b.getInsertionBlock()->getArgument(0));
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
    Value logits =
        ModelEmitter(b, config, params).logits(entry->getArgument(0));
    Value weights = options.weightedLoss ? entry->getArgument(2) : Value();
    Value loss = b.create<mlir::gpt::CrossEntropyOp>(
        NameLoc::get(b.getStringAttr("loss")), scalar, logits,
        entry->getArgument(1), weights);
    b.create<func::ReturnOp>(loc, loss);
  }
  if (options.generation)
    for (StringRef name : {"prefill", "decode"})
      buildGenerationFunction(b, *module, name, config, options);
  return module;
}

} // namespace gpt
