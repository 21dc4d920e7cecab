//===- ScaleMatcher.cpp
//----------------------------------------------------===//
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
