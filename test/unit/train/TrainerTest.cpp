//===- TrainerTest.cpp ----------------------------------------------------===//
#include "MockRunner.h"

#include "runtime/collective/Collective.h"
#include "runtime/data/Prepare.h"
#include "runtime/io/FileIO.h"
#include "runtime/io/Safetensors.h"
#include "runtime/train/Checkpoint.h"
#include "runtime/train/Evaluate.h"
#include "runtime/train/Init.h"
#include "runtime/train/Metrics.h"
#include "runtime/train/TrainRun.h"
#include "runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace gpt;
using namespace gpt::train;
using namespace gpt::io;
using gpt::train::testing::MockRunner;
namespace fs = std::filesystem;

namespace {

ModelConfig tinyConfig(std::int64_t vocab) {
  ModelConfig c;
  c.vocab_size = vocab;
  c.context_length = 16;
  c.n_layer = 1;
  c.n_head = 1;
  c.d_model = 4;
  c.d_ff = 8;
  return c;
}

class TrainRunTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("gpt_trainrun_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::string text;
    for (int i = 0; i < 400; ++i)
      text += "To be, or not to be, that is the question " +
              std::to_string(i * 7919 % 1000) + ".\n";
    writeFileAtomic(dir_ / "in.txt", text);
    data::PrepareOptions p;
    p.inputs = {dir_ / "in.txt"};
    p.tokenizer = GPT_SHARED_DATA_DIR; // GPT-2's files
    p.outDir = dir_ / "data";
    p.valFraction = 0.1;
    manifest_ = data::prepareData(p);
    config_ = tinyConfig(manifest_.vocabSize);
    writeFileAtomic(dir_ / "fake.gptart", "not read by the mock");
  }
  void TearDown() override { fs::remove_all(dir_); }

  RunOptions options(const fs::path &run, std::int64_t steps) {
    RunOptions o;
    o.runDir = run;
    o.dataDir = dir_ / "data";
    o.config = config_;
    o.hp.batch = 2;
    o.hp.seq = 8;
    o.hp.gradAccum = 2;
    o.hp.lr = 0.01;
    o.hp.minLr = 0.001;
    o.hp.warmup = 2;
    o.hp.totalSteps = 8;
    o.steps = steps;
    o.evalEvery = 3;
    o.evalBatches = 2;
    return o;
  }
  RunResult train(const RunOptions &o, MockRunner &r) {
    if (!o.resume)
      prepareRunDir(o.runDir, o.dataDir, o.config, dir_ / "fake.gptart");
    return runTraining(r, o);
  }

  fs::path dir_;
  data::Manifest manifest_;
  ModelConfig config_;
};

std::vector<double> losses(const fs::path &run) {
  std::vector<double> out;
  for (const StepMetrics &m : readMetrics(run / "metrics.jsonl"))
    out.push_back(m.loss);
  return out;
}

} // namespace

TEST_F(TrainRunTest, GradAccumulationCallsAndScale) {
  MockRunner r(config_);
  RunResult res = train(options(dir_ / "run", 3), r);
  EXPECT_FALSE(res.nonFinite);
  EXPECT_EQ(res.steps, 3);
  EXPECT_EQ(r.trainGradCalls, 6);
  EXPECT_EQ(r.optimizerCalls, 3);
  for (float s : r.gradScales)
    EXPECT_EQ(s, 0.5f);
  for (const char *f : {"config.json", "artifact.gptart", "tokenizer",
                        "model.safetensors", "checkpoints/model-3.safetensors",
                        "checkpoints/optimizer-3.safetensors", "state.json",
                        "metrics.jsonl", "loss.svg"})
    EXPECT_TRUE(fs::exists(dir_ / "run" / f)) << f;
  // model.safetensors is the committed weights; older steps are gone.
  EXPECT_TRUE(fs::equivalent(dir_ / "run" / "model.safetensors",
                             dir_ / "run" / "checkpoints/model-3.safetensors"));
  EXPECT_FALSE(fs::exists(dir_ / "run" / "checkpoints/model-2.safetensors"));
  RunState st = readRunState(dir_ / "run");
  EXPECT_EQ(st.step, 3);
  EXPECT_EQ(st.weightsFile, "checkpoints/model-3.safetensors");
  EXPECT_EQ(st.optimizerFile, "checkpoints/optimizer-3.safetensors");
  EXPECT_EQ(st.loader.cursor, 12u) << "3 steps x 2 micro-batches x B=2";
  auto m = readMetrics(dir_ / "run" / "metrics.jsonl");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_TRUE(m[2].valLoss.has_value()) << "evaluated at step 3";
  EXPECT_FALSE(m[0].valLoss.has_value());
  auto opt =
      readSafetensors(dir_ / "run" / "checkpoints/optimizer-3.safetensors");
  EXPECT_TRUE(opt.tensors.count("adam_m.wte.weight"));
  EXPECT_TRUE(opt.tensors.count("adam_v.ln_f.bias"));
  EXPECT_EQ(opt.metadata.at("step"), "3");
}

TEST_F(TrainRunTest, ResumeIsExact) {
  MockRunner straight(config_);
  train(options(dir_ / "a", 8), straight);

  MockRunner first(config_), second(config_);
  train(options(dir_ / "b", 4), first);
  RunOptions o = options(dir_ / "b", 8);
  o.resume = true;
  RunResult res = train(o, second);
  EXPECT_EQ(res.steps, 8);
  EXPECT_EQ(second.optimizerCalls, 4);
  EXPECT_EQ(readFile(dir_ / "a" / "model.safetensors"),
            readFile(dir_ / "b" / "model.safetensors"));
  EXPECT_EQ(readFile(dir_ / "a" / "checkpoints/optimizer-8.safetensors"),
            readFile(dir_ / "b" / "checkpoints/optimizer-8.safetensors"));
  EXPECT_EQ(losses(dir_ / "a"), losses(dir_ / "b"));
  EXPECT_EQ(losses(dir_ / "a").size(), 8u);
}

TEST_F(TrainRunTest, ResumeDropsMetricsAfterTheCheckpoint) {
  MockRunner a(config_);
  train(options(dir_ / "run", 4), a);
  // Pretend the interrupted run logged two steps past its checkpoint.
  {
    MetricsLog log(dir_ / "run" / "metrics.jsonl", std::int64_t{100});
    StepMetrics m;
    m.step = 5;
    log.append(m);
    m.step = 6;
    log.append(m);
  }
  MockRunner b(config_);
  RunOptions o = options(dir_ / "run", 6);
  o.resume = true;
  train(o, b);
  auto m = readMetrics(dir_ / "run" / "metrics.jsonl");
  ASSERT_EQ(m.size(), 6u);
  for (std::size_t i = 0; i < m.size(); ++i)
    EXPECT_EQ(m[i].step, static_cast<std::int64_t>(i + 1));
}

TEST_F(TrainRunTest, NonFiniteLossKeepsLastCheckpoint) {
  MockRunner r(config_);
  r.nanAtTrainGradCall = 11; // step 6's first micro-batch
  RunOptions o = options(dir_ / "run", 8);
  o.evalEvery = 0;
  o.checkpointEvery = 2;
  RunResult res = train(o, r);
  EXPECT_TRUE(res.nonFinite);
  EXPECT_NE(res.message.find("loss is nan at step 6"), std::string::npos)
      << res.message;
  EXPECT_NE(res.message.find("(step 4)"), std::string::npos) << res.message;
  EXPECT_EQ(readRunState(dir_ / "run").step, 4);
  EXPECT_EQ(r.optimizerCalls, 5);
}

TEST_F(TrainRunTest, MixedCheckpointIsDetected) {
  MockRunner r(config_);
  train(options(dir_ / "run", 2), r);
  fs::path committed = dir_ / "run" / "checkpoints/model-2.safetensors";
  auto f = readSafetensors(committed);
  f.metadata["step"] = "3";
  writeSafetensors(committed, f);
  MockRunner r2(config_);
  RunOptions o = options(dir_ / "run", 4);
  o.resume = true;
  try {
    train(o, r2);
    FAIL() << "resumed from mixed steps";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("holds step 3"), std::string::npos)
        << e.what();
  }
}

// What a kill during a checkpoint can leave behind is cleaned up on
// --resume: temporary files, step files state.json does not name, and a
// model.safetensors that is not the committed weights.
TEST_F(TrainRunTest, ResumeRepairsAnInterruptedCheckpoint) {
  MockRunner straight(config_);
  train(options(dir_ / "a", 4), straight);
  MockRunner first(config_);
  train(options(dir_ / "b", 2), first);
  fs::path run = dir_ / "b";
  writeFileAtomic(run / "checkpoints/model-3.safetensors", "torn");
  std::ofstream(run / ".state.json.tmp.AbC123") << "{";
  std::ofstream(run / "checkpoints/.optimizer-3.safetensors.tmp.x") << "x";
  fs::remove(run / "model.safetensors");
  writeFileAtomic(run / "model.safetensors", "stale");
  EXPECT_EQ(repairRunDir(run), 4);
  EXPECT_FALSE(fs::exists(run / "checkpoints/model-3.safetensors"));
  EXPECT_FALSE(fs::exists(run / ".state.json.tmp.AbC123"));
  EXPECT_TRUE(fs::exists(run / "checkpoints/model-2.safetensors"));
  EXPECT_EQ(readFile(run / "model.safetensors"),
            readFile(run / "checkpoints/model-2.safetensors"));
  EXPECT_EQ(repairRunDir(run), 0) << "nothing left to fix";
  MockRunner second(config_);
  RunOptions o = options(run, 4);
  o.resume = true;
  train(o, second);
  EXPECT_EQ(readFile(dir_ / "a" / "model.safetensors"),
            readFile(run / "model.safetensors"));
}

// A torn final line of metrics.jsonl (killed mid-append) is dropped; a bad
// line before the end is corruption.
TEST(Metrics, TornFinalLineIsDropped) {
  fs::path p = fs::temp_directory_path() /
               ("gpt_metrics_" + std::to_string(::getpid()) + ".jsonl");
  std::ofstream(p) << R"({"step":1,"loss":2.5,"lr":0.1,"grad_norm":1,)"
                   << R"("tokens_per_s":10,"elapsed_s":1})"
                   << "\n"
                   << R"({"step":2,"loss":2.)";
  auto m = readMetrics(p);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].step, 1);
  std::ofstream(p) << R"({"step":1,"lo)"
                   << "\n"
                   << R"({"step":2,"loss":2.5,"lr":0.1,"grad_norm":1,)"
                   << R"("tokens_per_s":10,"elapsed_s":1})"
                   << "\n";
  EXPECT_THROW(readMetrics(p), std::runtime_error);
  fs::remove(p);
}

TEST_F(TrainRunTest, RefusesToOverwriteARun) {
  MockRunner r(config_);
  train(options(dir_ / "run", 1), r);
  EXPECT_THROW(
      prepareRunDir(dir_ / "run", dir_ / "data", config_, dir_ / "fake.gptart"),
      std::runtime_error);
}

TEST_F(TrainRunTest, CheckpointRejectsWrongShapes) {
  MockRunner r(config_);
  Trainer t(r, config_, Hyperparams{});
  std::map<std::string, Tensor> bad = initParameters(config_, 1);
  bad["wte.weight"] = Tensor::fromF32({1, 4}, {0, 0, 0, 0});
  try {
    t.loadParameters(bad, "x.safetensors");
    FAIL();
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("x.safetensors: tensor 'wte.weight' "
                                         "has shape [1, 4]"),
              std::string::npos)
        << e.what();
  }
  auto missing = initParameters(config_, 1);
  missing.erase("ln_f.bias");
  EXPECT_THROW(t.loadParameters(missing, "y"), std::runtime_error);
  auto extra = initParameters(config_, 1);
  extra["bogus"] = Tensor::fromF32({1}, {0});
  EXPECT_THROW(t.loadParameters(extra, "z"), std::runtime_error);
}

TEST_F(TrainRunTest, EvaluateWindowsIncludeTheTail) {
  MockRunner r(config_);
  Trainer t(r, config_, Hyperparams{}, /*forTraining=*/false);
  t.initialize(1);
  TokenStream s;
  for (int i = 0; i < 21; ++i)
    s.tokens.push_back(i);
  // T = 8: windows [0..8], [8..16], tail [16..20] -> 8 + 8 + 4 targets.
  EvalResult e = evaluateStreams(t, {s}, 4, 8);
  EXPECT_EQ(e.weightSum, 20.0);
  finishEval(e, 0.25);
  EXPECT_NEAR(e.bitsPerByte, e.loss * 0.25 / std::log(2.0), 1e-12);
  EXPECT_NEAR(e.perplexity, std::exp(e.loss), 1e-9);
}

namespace {
/// A stand-in for rank `r` of a 2-rank job whose peer holds the same
/// values: sums double, and every other call succeeds at once.
class FakeRanks : public collective::Collective {
public:
  explicit FakeRanks(int r) : rank_(r) {}
  std::vector<std::int64_t> steps;
  int rank() const override { return rank_; }
  int worldSize() const override { return 2; }
  int localRank() const override { return rank_; }
  std::string description() const override { return "fake"; }
  void startAllReduce(const std::vector<collective::Span> &,
                      collective::Reduction) override {}
  void waitAll() override {}
  bool pending() const override { return false; }
  void allReduce(double *v, std::size_t n, collective::Reduction r) override {
    if (r == collective::Reduction::Sum)
      for (std::size_t i = 0; i < n; ++i)
        v[i] *= 2;
  }
  void broadcast(void *, std::size_t, int) override {}
  void barrier() override {}
  void beginStep(std::int64_t step) override { steps.push_back(step); }
  [[noreturn]] void abort(const std::string &why) override {
    throw std::runtime_error(why);
  }

private:
  int rank_;
};
} // namespace

TEST_F(TrainRunTest, DataParallelRanksTakeTheirShareOfTheGlobalBatch) {
  // One process with grad_accum 4 reads 4 micro-batches per step; rank r of
  // 2 ranks with grad_accum 2 reads the r-th pair of them.
  MockRunner alone(config_);
  RunOptions o = options(dir_ / "alone", 3);
  o.hp.gradAccum = 4;
  train(o, alone);
  ASSERT_EQ(alone.firstTokens.size(), 12u);
  for (int rank : {0, 1}) {
    MockRunner r(config_);
    r.reducesGradients = true;
    FakeRanks ranks(rank);
    RunOptions ro = options(dir_ / ("rank" + std::to_string(rank)), 3);
    ro.group = &ranks;
    train(ro, r);
    ASSERT_EQ(r.firstTokens.size(), 6u);
    for (int step = 0; step < 3; ++step)
      for (int i = 0; i < 2; ++i)
        EXPECT_EQ(r.firstTokens[step * 2 + i],
                  alone.firstTokens[step * 4 + rank * 2 + i])
            << "rank " << rank << " step " << step << " micro-batch " << i;
    // The reduction runs once per step, on the last micro-batch.
    EXPECT_EQ(r.collectivesPerCall,
              (std::vector<bool>{false, true, false, true, false, true}));
    EXPECT_EQ(ranks.steps, (std::vector<std::int64_t>{0, 1, 2}));
    // Only rank 0 writes metrics and checkpoints.
    const fs::path run = dir_ / ("rank" + std::to_string(rank));
    EXPECT_EQ(fs::exists(run / "metrics.jsonl"), rank == 0);
    EXPECT_EQ(fs::exists(run / "state.json"), rank == 0);
  }
  // The global data position: 3 steps x 2 ranks x 2 micro-batches x B=2.
  EXPECT_EQ(readRunState(dir_ / "rank0").loader.cursor, 24u);
}

TEST_F(TrainRunTest, DataParallelNeedsAReducingArtifact) {
  MockRunner r(config_); // train_grad without all_reduce
  FakeRanks ranks(0);
  Trainer t(r, config_, options(dir_, 1).hp);
  try {
    t.setCollective(&ranks);
    FAIL() << "accepted";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("gptc --data-parallel"),
              std::string::npos)
        << e.what();
  }
  collective::SingleProcess alone; // one process needs no reduction
  EXPECT_NO_THROW(t.setCollective(&alone));
}

TEST_F(TrainRunTest, DataParallelNonFiniteLossStopsEveryRankTogether) {
  // Alone, a NaN stops at once; with ranks, this rank still runs its other
  // micro-batch (the peers cannot know yet) and all ranks stop before the
  // optimizer, on the same step.
  MockRunner r(config_);
  r.reducesGradients = true;
  r.nanAtTrainGradCall = 1;
  FakeRanks ranks(1);
  Trainer t(r, config_, options(dir_, 1).hp);
  t.setCollective(&ranks);
  t.initialize(1);
  data::Batch b;
  b.batchSize = 2;
  b.seqLen = 8;
  b.inputs.assign(16, 1);
  b.targets.assign(16, 2);
  b.weights.assign(16, 1.0f);
  EXPECT_THROW(t.step({b, b}), NonFiniteError);
  EXPECT_EQ(r.trainGradCalls, 2);
  EXPECT_EQ(r.optimizerCalls, 0);
}
