//===- CompiledModelTest.cpp ----------------------------------------------===//
//
// The compiler and the runtime together: a tiny model compiled by gptc runs
// on the CPU executor, its training gradients match finite differences of
// its own eval_loss, and a few optimizer steps overfit one batch.
#include "runtime/artifact/Artifact.h"
#include "runtime/executor/CpuExecutor.h"
#include "schema/Parameters.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

namespace {
using gpt::DType;
using gpt::HostTensor;
using gpt::TensorView;

struct Named {
  std::vector<float> data;
  std::vector<int64_t> shape;
};

class CompiledModel : public testing::Test {
protected:
  static void SetUpTestSuite() {
    path = new std::string(testing::TempDir() + "/compiled_model_test.gptart");
    std::string config = testing::TempDir() + "/compiled_model_test.json";
    FILE *f = fopen(config.c_str(), "w");
    ASSERT_TRUE(f);
    fputs(R"({"vocab_size": 13, "context_length": 8, "n_layer": 2,
              "n_head": 2, "d_model": 8, "d_ff": 16, "tie_embeddings": true})",
          f);
    fclose(f);
    std::string cmd = std::string(GPT_BINARY_DIR) + "/bin/gptc --config " +
                      config + " --emit=artifact -o " + *path;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  static void TearDownTestSuite() { delete path; }

  void SetUp() override {
    artifact = gpt::readArtifact(*path);
    executor = std::make_unique<gpt::CpuExecutor>(artifact, 1);
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.3f);
    for (const gpt::ParamSpec &spec : gpt::parameterSpecs(artifact.config)) {
      int64_t n = 1;
      for (int64_t d : spec.shape)
        n *= d;
      Named p{std::vector<float>(n), spec.shape};
      for (float &x : p.data)
        x = spec.kind == gpt::ParamKind::LayerNormGain ? 1.0f + normal(rng)
                                                       : normal(rng);
      params[spec.name] = p;
      for (const char *prefix : {"grad.", "adam_m.", "adam_v."})
        state[prefix + spec.name] =
            Named{std::vector<float>(n, 0.0f), spec.shape};
    }
    std::uniform_int_distribution<int32_t> token(0, 12);
    for (int i = 0; i < B * T; ++i) {
      tokens.push_back(token(rng));
      targets.push_back(token(rng));
      weights.push_back(i % 3 == 0 ? 0.0f : 1.0f);
    }
  }

  static TensorView view(Named &n) {
    return {DType::F32, n.shape, n.data.data()};
  }

  std::map<std::string, TensorView> dataInputs() {
    return {{"tokens", {DType::I32, {B, T}, tokens.data()}},
            {"targets", {DType::I32, {B, T}, targets.data()}},
            {"weights", {DType::F32, {B, T}, weights.data()}}};
  }

  float evalLoss() {
    auto inputs = dataInputs();
    for (auto &[name, p] : params)
      inputs[name] = view(p);
    return executor->run("eval_loss", inputs).at("loss").f32.at(0);
  }

  float trainGrad(float scale) {
    auto inputs = dataInputs();
    inputs["grad_scale"] = {DType::F32, {}, &scale};
    for (auto &[name, p] : params)
      inputs[name] = view(p);
    for (auto &[name, s] : state)
      if (name.rfind("grad.", 0) == 0)
        inputs[name] = view(s);
    return executor->run("train_grad", inputs).at("loss").f32.at(0);
  }

  std::map<std::string, HostTensor> applyOptimizer(int32_t step, float lr) {
    // [lr, min_lr, warmup, total_steps, beta1, beta2, eps, weight_decay, clip]
    hparams = {lr, lr, 0.0f, 1000.0f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    std::map<std::string, TensorView> inputs = {
        {"step", {DType::I32, {}, &step}},
        {"hparams", {DType::F32, {9}, hparams.data()}}};
    for (auto &[name, p] : params)
      inputs[name] = view(p);
    for (auto &[name, s] : state)
      inputs[name] = view(s);
    return executor->run("apply_optimizer", inputs);
  }

  static inline std::string *path = nullptr;
  static constexpr int64_t B = 2, T = 6;
  gpt::Artifact artifact;
  std::unique_ptr<gpt::CpuExecutor> executor;
  std::map<std::string, Named> params, state;
  std::vector<int32_t> tokens, targets;
  std::vector<float> weights, hparams;
};

TEST_F(CompiledModel, HasTheFourFunctions) {
  for (const char *name :
       {"forward", "eval_loss", "train_grad", "apply_optimizer"})
    EXPECT_NE(artifact.findFunction(name), nullptr) << name;
}

TEST_F(CompiledModel, EvalLossIsTheWeightedCrossEntropyOfForward) {
  std::map<std::string, TensorView> inputs = {
      {"tokens", {DType::I32, {B, T}, tokens.data()}}};
  for (auto &[name, p] : params)
    inputs[name] = view(p);
  HostTensor logits = executor->run("forward", inputs).at("logits");
  ASSERT_EQ(logits.shape, (std::vector<int64_t>{B, T, 13}));
  double sum = 0, weightSum = 0;
  for (int64_t i = 0; i < B * T; ++i) {
    const float *row = logits.f32.data() + i * 13;
    double max = *std::max_element(row, row + 13), z = 0;
    for (int v = 0; v < 13; ++v)
      z += std::exp(row[v] - max);
    sum += weights[i] * (std::log(z) + max - row[targets[i]]);
    weightSum += weights[i];
  }
  EXPECT_NEAR(evalLoss(), sum / weightSum, 1e-5);
}

TEST_F(CompiledModel, TrainGradMatchesFiniteDifferencesOfEvalLoss) {
  float loss = trainGrad(1.0f);
  EXPECT_NEAR(loss, evalLoss(), 1e-5);
  std::mt19937 rng(3);
  int checked = 0;
  for (auto &[name, p] : params) {
    const std::vector<float> &grad = state.at("grad." + name).data;
    std::uniform_int_distribution<size_t> pick(0, p.data.size() - 1);
    for (int k = 0; k < 3; ++k) {
      size_t i = pick(rng);
      const float h = 1e-2f, saved = p.data[i];
      p.data[i] = saved + h;
      double up = evalLoss();
      p.data[i] = saved - h;
      double down = evalLoss();
      p.data[i] = saved;
      double fd = (up - down) / (2 * h);
      // fp32 finite differences: rounding ~1e-4 at this h, plus O(h^2).
      EXPECT_NEAR(grad[i], fd, 2e-3 + 0.05 * std::abs(fd))
          << name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 30);
}

TEST_F(CompiledModel, GradientsAccumulateOverMicroBatches) {
  trainGrad(1.0f);
  std::map<std::string, std::vector<float>> once;
  for (auto &[name, s] : state)
    if (name.rfind("grad.", 0) == 0)
      once[name] = s.data;
  for (auto &[name, s] : state)
    std::fill(s.data.begin(), s.data.end(), 0.0f);
  trainGrad(0.25f);
  trainGrad(0.75f);
  for (auto &[name, g] : once)
    for (size_t i = 0; i < g.size(); ++i)
      ASSERT_NEAR(state[name].data[i], g[i], 1e-5 + 1e-4 * std::abs(g[i]))
          << name;
}

TEST_F(CompiledModel, OptimizerStepsOverfitOneBatchInPlace) {
  float first = evalLoss();
  std::vector<float> wteBefore = params["wte.weight"].data;
  float last = first;
  for (int step = 0; step < 40; ++step) {
    last = trainGrad(1.0f);
    auto out = applyOptimizer(step, 3e-2f);
    EXPECT_TRUE(std::isfinite(out.at("grad_norm").f32.at(0)));
    EXPECT_FLOAT_EQ(out.at("lr").f32.at(0), 3e-2f);
    for (auto &[name, s] : state)
      if (name.rfind("grad.", 0) == 0)
        for (float g : s.data)
          ASSERT_EQ(g, 0.0f) << name << " not zeroed by apply_optimizer";
  }
  EXPECT_NE(params["wte.weight"].data, wteBefore); // updated in place
  EXPECT_LT(last, 0.5f * first) << "first " << first << " last " << last;
}

TEST_F(CompiledModel, LearningRateScheduleWarmsUpAndDecays) {
  auto lrAt = [&](int32_t step) {
    hparams = {1.0f, 0.1f, 10.0f, 110.0f, 0.9f, 0.95f, 1e-8f, 0.0f, 0.0f};
    std::map<std::string, TensorView> inputs = {
        {"step", {DType::I32, {}, &step}},
        {"hparams", {DType::F32, {9}, hparams.data()}}};
    for (auto &[name, p] : params)
      inputs[name] = view(p);
    for (auto &[name, s] : state)
      inputs[name] = view(s);
    return executor->run("apply_optimizer", inputs).at("lr").f32.at(0);
  };
  EXPECT_NEAR(lrAt(0), 0.1f, 1e-6);   // (0+1)/10 of the peak
  EXPECT_NEAR(lrAt(9), 1.0f, 1e-6);   // end of warm-up
  EXPECT_NEAR(lrAt(60), 0.55f, 1e-5); // half-way down the cosine
  EXPECT_NEAR(lrAt(200), 0.1f, 1e-6); // floor
}
} // namespace
