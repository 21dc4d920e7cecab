//===- FrontendTest.cpp ---------------------------------------------------===//
//
// The frontend's module: functions, argument names, dynamic shapes, the
// decomposed attention it emits, and what the default pipeline makes of it.
#include "dialects/gpt/GPTAttributes.h"
#include "dialects/gpt/GPTOps.h"
#include "frontend/GPTBuilder.h"
#include "passes/Passes.h"
#include "schema/Parameters.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

using namespace mlir;

namespace {
::gpt::ModelConfig tinyConfig() {
  ::gpt::ModelConfig c;
  c.vocab_size = 96;
  c.context_length = 32;
  c.n_layer = 3;
  c.n_head = 2;
  c.d_model = 16;
  c.d_ff = 48;
  return c;
}

template <typename OpT> int count(Operation *root) {
  int n = 0;
  root->walk([&](OpT) { ++n; });
  return n;
}

class FrontendTest : public testing::Test {
protected:
  MLIRContext context;
};

TEST_F(FrontendTest, BuildsVerifiedForwardAndLoss) {
  auto module = ::gpt::buildGPTModule(context, tinyConfig());
  ASSERT_TRUE(succeeded(verify(*module)));
  auto forward = module->lookupSymbol<func::FuncOp>("forward");
  auto loss = module->lookupSymbol<func::FuncOp>("loss");
  ASSERT_TRUE(forward && loss);

  auto specs = ::gpt::parameterSpecs(tinyConfig());
  ASSERT_EQ(forward.getNumArguments(), 1 + specs.size());
  ASSERT_EQ(loss.getNumArguments(), 3 + specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    auto name =
        forward.getArgAttrOfType<StringAttr>(1 + i, mlir::gpt::attr::kParam);
    ASSERT_TRUE(name);
    EXPECT_EQ(name.getValue(), specs[i].name);
    auto type = cast<RankedTensorType>(forward.getArgument(1 + i).getType());
    EXPECT_EQ(type.getShape(), ArrayRef<int64_t>(specs[i].shape));
    EXPECT_EQ(loss.getArgAttrOfType<StringAttr>(3 + i, mlir::gpt::attr::kParam)
                  .getValue(),
              specs[i].name);
  }
  EXPECT_EQ(
      loss.getArgAttrOfType<StringAttr>(2, mlir::gpt::attr::kInput).getValue(),
      "weights");

  // Batch and sequence are symbolic; the vocabulary is not.
  auto tokens = cast<RankedTensorType>(forward.getArgument(0).getType());
  EXPECT_TRUE(tokens.isDynamicDim(0) && tokens.isDynamicDim(1));
  auto logits = cast<RankedTensorType>(forward.getResultTypes()[0]);
  EXPECT_EQ(logits.getShape()[2], 96);
  EXPECT_TRUE(logits.isDynamicDim(0) && logits.isDynamicDim(1));
  auto lossType = cast<RankedTensorType>(loss.getResultTypes()[0]);
  EXPECT_EQ(lossType.getRank(), 0);
}

TEST_F(FrontendTest, EmitsDecomposedAttention) {
  auto module = ::gpt::buildGPTModule(context, tinyConfig());
  auto forward = module->lookupSymbol<func::FuncOp>("forward");
  EXPECT_EQ(count<mlir::gpt::SoftmaxOp>(forward), 3);
  EXPECT_EQ(count<mlir::gpt::CausalMaskOp>(forward), 3);
  EXPECT_EQ(count<mlir::gpt::MatmulOp>(forward), 6);
  EXPECT_EQ(count<mlir::gpt::AttentionOp>(forward), 0);
  EXPECT_EQ(count<mlir::gpt::GeluOp>(forward), 3);
  EXPECT_EQ(count<mlir::gpt::LayerNormOp>(forward), 3 * 2 + 1);
  forward.walk([](mlir::gpt::ScaleOp scale) {
    EXPECT_FLOAT_EQ(scale.getFactor().convertToFloat(), 1.0f / std::sqrt(8.0f));
  });
}

TEST_F(FrontendTest, DefaultPipelineFusesEveryAttention) {
  auto module = ::gpt::buildGPTModule(context, tinyConfig());
  PassManager pm(&context);
  mlir::gpt::buildDefaultPipeline(pm);
  ASSERT_TRUE(succeeded(pm.run(*module)));
  for (StringRef name : {"forward", "loss"}) {
    auto fn = module->lookupSymbol<func::FuncOp>(name);
    EXPECT_EQ(count<mlir::gpt::AttentionOp>(fn), 3) << name.str();
    EXPECT_EQ(count<mlir::gpt::SoftmaxOp>(fn), 0) << name.str();
    EXPECT_EQ(count<mlir::gpt::ScaledMaskedSoftmaxOp>(fn), 0) << name.str();
    EXPECT_EQ(count<mlir::gpt::MatmulOp>(fn), 0) << name.str();
    // Per layer: residual+ln_2, bias+gelu, residual+next ln; plus the
    // embedding add + ln_1 of layer 0.
    EXPECT_EQ(count<mlir::gpt::FusionOp>(fn), 3 * 3 + 1) << name.str();
  }
}

TEST_F(FrontendTest, UnweightedLossAndUntiedHead) {
  ::gpt::ModelConfig c = tinyConfig();
  c.tie_embeddings = false;
  ::gpt::FrontendOptions options;
  options.weightedLoss = false;
  auto module = ::gpt::buildGPTModule(context, c, options);
  ASSERT_TRUE(succeeded(verify(*module)));
  auto loss = module->lookupSymbol<func::FuncOp>("loss");
  auto specs = ::gpt::parameterSpecs(c);
  EXPECT_EQ(loss.getNumArguments(), 2 + specs.size());
  EXPECT_EQ(loss.getArgAttrOfType<StringAttr>(loss.getNumArguments() - 1,
                                              mlir::gpt::attr::kParam)
                .getValue(),
            "lm_head.weight");
  loss.walk(
      [](mlir::gpt::CrossEntropyOp op) { EXPECT_FALSE(op.getWeights()); });
}

TEST_F(FrontendTest, RecordsTheConfigInTheModule) {
  auto module = ::gpt::buildGPTModule(context, tinyConfig());
  auto json = (*module)->getAttrOfType<StringAttr>(mlir::gpt::attr::kConfig);
  ASSERT_TRUE(json);
  ::gpt::ModelConfig back;
  std::string error;
  ASSERT_TRUE(::gpt::tryParseModelConfig(json.str(), "module", back, error))
      << error;
  EXPECT_EQ(back.d_ff, 48);
}
} // namespace
