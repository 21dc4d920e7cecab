//===- ScaleMatcher.cpp - matching scale-by-constant chains ---------------===//
#include "passes/ScaleMatcher.h"
#include "dialects/gpt/GPTOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;

std::optional<float> gpt::matchConstantScale(Operation *op, Value &input) {
  if (!op)
    return std::nullopt;
  if (auto scale = dyn_cast<ScaleOp>(op)) {
    input = scale.getInput();
    return scale.getFactor().convertToFloat();
  }
  if (auto mul = dyn_cast<MulOp>(op)) {
    DenseFPElementsAttr constant;
    if (!matchPattern(mul.getRhs(), m_Constant(&constant)) ||
        !constant.isSplat())
      return std::nullopt;
    input = mul.getLhs();
    APFloat value = constant.getSplatValue<APFloat>();
    bool losesInfo = false;
    value.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven,
                  &losesInfo);
    return value.convertToFloat();
  }
  return std::nullopt;
}

gpt::ScaleMaskChain gpt::matchScaleMaskChain(Value softmaxInput) {
  ScaleMaskChain chain;
  chain.input = softmaxInput;
  for (int step = 0; step < 2; ++step) {
    Operation *def = chain.input.getDefiningOp();
    if (!def || !def->hasOneUse())
      break;
    if (auto mask = dyn_cast<CausalMaskOp>(def); mask && !chain.masked) {
      chain.masked = true;
      chain.input = mask.getInput();
      continue;
    }
    Value scaled;
    if (auto factor = matchConstantScale(def, scaled); factor && !chain.scale) {
      chain.scale = factor;
      // Walking upwards: a mask already seen lies below, i.e. mask(scale(x)).
      chain.scaleFeedsMask = chain.masked;
      chain.input = scaled;
      continue;
    }
    break;
  }
  return chain;
}
