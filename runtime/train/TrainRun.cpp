//===- TrainRun.cpp -------------------------------------------------------===//
#include "runtime/train/TrainRun.h"

#include "runtime/collective/Collective.h"
#include "runtime/data/Manifest.h"
#include "runtime/io/FileIO.h"
#include "runtime/tokenizer/Tokenizer.h"
#include "runtime/train/Evaluate.h"
#include "runtime/train/Metrics.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace gpt::train {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void prepareRunDir(const fs::path &runDir, const fs::path &dataDir,
                   const ModelConfig &config, const fs::path &artifact) {
  if (fs::exists(runDir / "state.json"))
    throw std::runtime_error(
        runDir.string() +
        " already holds a checkpoint: pass --resume to continue it, or "
        "choose another --out");
  fs::create_directories(runDir);
  repairRunDir(runDir); // leftovers of a run killed before its first commit
  data::Manifest m = data::Manifest::load(dataDir);
  auto tok = tokenizer::Tokenizer::load(m.tokenizerPath);
  if (tok.fingerprint() != m.tokenizerFingerprint)
    throw std::runtime_error(m.tokenizerPath + ": tokenizer fingerprint " +
                             tok.fingerprint() + " differs from the one " +
                             dataDir.string() + " was prepared with (" +
                             m.tokenizerFingerprint + ")");
  tok.save(runDir / "tokenizer");
  io::writeFileAtomic(runDir / "config.json", modelConfigToJson(config) + "\n");
  if (fs::absolute(artifact) != fs::absolute(runDir / "artifact.gptart"))
    io::writeFileAtomic(runDir / "artifact.gptart", io::readFile(artifact));
}

namespace {
std::string formatDuration(double s) {
  if (!std::isfinite(s) || s < 0)
    return "?";
  long t = std::lround(s);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60,
                  t % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}
} // namespace

namespace {
double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// One invocation of `gpt train`: the trainer, the data position and the
/// run's state, and the steps of the loop runTraining drives.
class TrainingLoop {
public:
  TrainingLoop(FunctionRunner &runner, const RunOptions &o)
      : o(o), runDir(o.runDir), manifest(data::Manifest::load(o.dataDir)),
        hp(o.hp), trainer(runner, o.config, hp),
        loader(data::DataLoader::fromPrepared(o.dataDir, "train",
                                              loaderOptions(hp))),
        title("gpt train: " + runDir.filename().string() + " (" +
              std::to_string(o.config.n_layer) +
              " layers, d=" + std::to_string(o.config.d_model) + ")") {
    if (static_cast<std::int64_t>(manifest.vocabSize) > o.config.vocab_size)
      throw std::runtime_error("the data's vocabulary (" +
                               std::to_string(manifest.vocabSize) +
                               ") is larger than the model's vocab_size (" +
                               std::to_string(o.config.vocab_size) + ")");
    if (o.group)
      group = o.group;
    trainer.setCollective(group, o.shardOptimizer);
    if (trainer.shardsOptimizer()) {
      std::int64_t mine = 0, all = 0, count = 0;
      for (const auto &[name, t] : trainer.parameters()) {
        all += t.numel();
        if (trainer.ownerOf(name) == group->rank()) {
          mine += t.numel();
          ++count;
        }
      }
      log("optimizer state sharded: rank 0 keeps the moments of " +
          std::to_string(count) + " of " +
          std::to_string(trainer.parameters().size()) + " parameters (" +
          std::to_string(mine) + " of " + std::to_string(all) + " values)");
    }
    std::optional<std::int64_t> keepMetrics = openRun();
    if (leader())
      metrics.emplace(runDir / "metrics.jsonl", keepMetrics);
    // Validation data (a bounded number of batches during training).
    if (!manifest.val.shards.empty() && manifest.val.tokens > 1) {
      double tokensPerByte = 0;
      val = readPreparedSplit(o.dataDir, "val", &tokensPerByte);
    }
    result.steps = trainer.stepsDone();
    elapsedBefore = state.elapsedSeconds;
    scheduleFixed = o.steps > 0 || o.resume;
  }

  RunResult run() {
    start = Clock::now(); // the time budget counts from the first step
    while (true) {
      agreeOnClockAndStop();
      if (shouldStop())
        break;
      std::vector<data::Batch> micro = shareOfNextBatch();
      auto t0 = Clock::now();
      StepResult r;
      try {
        r = trainer.step(micro);
      } catch (const NonFiniteError &e) {
        return stopOnNonFinite(e);
      }
      double dt = leaderValue(secondsSince(t0));
      agreeOnClockAndStop();
      trainSeconds += dt;
      ++stepsThisRun;
      state.tokensSeen += r.tokens;
      if (stepsThisRun == 1)
        firstStepSeconds = dt;
      fixScheduleFromTimeBudget();
      if (afterStep(r, dt))
        break;
    }
    state.elapsedSeconds = elapsedBefore + elapsedNow;
    checkpoint();
    result.trainSeconds = trainSeconds;
    return result;
  }

private:
  static data::LoaderOptions loaderOptions(const Hyperparams &hp) {
    data::LoaderOptions lo;
    lo.batchSize = static_cast<std::size_t>(hp.batch);
    lo.seqLen = static_cast<std::size_t>(hp.seq);
    lo.shuffle = true;
    lo.seed = hp.seed;
    return lo;
  }

  void log(const std::string &s) const {
    if (o.log && leader())
      o.log(s);
  }

  bool leader() const { return group->rank() == 0; }

  /// Rank 0's value of x on every rank.
  double leaderValue(double x) const {
    double v = leader() ? x : 0.0;
    group->allReduce(&v, 1, collective::Reduction::Sum);
    return v;
  }

  /// Rank 0's elapsed time and whether any rank was asked to stop, the same
  /// on every rank (alone: the local ones).
  void agreeOnClockAndStop() {
    const bool asked = o.stopRequested && o.stopRequested->load();
    double v[2] = {leader() ? secondsSince(start) : 0.0, asked ? 1.0 : 0.0};
    group->allReduce(v, 2, collective::Reduction::Sum);
    elapsedNow = v[0];
    stopAgreed = v[1] > 0;
  }

  /// This rank's micro-batches of the next global batch: the job reads
  /// ranks x grad_accum batches in the loader's order, rank r the r-th run
  /// of grad_accum of them. So the position is global (resuming with
  /// another world size continues the same data order), and N ranks with
  /// grad_accum 1 see what one process with grad_accum N would.
  std::vector<data::Batch> shareOfNextBatch() {
    const auto accum = static_cast<std::size_t>(hp.gradAccum);
    const auto rank = static_cast<std::size_t>(group->rank());
    const auto ranks = static_cast<std::size_t>(group->worldSize());
    loader.skip(rank * accum);
    std::vector<data::Batch> micro;
    for (std::size_t i = 0; i < accum; ++i)
      micro.push_back(loader.next());
    loader.skip((ranks - 1 - rank) * accum);
    return micro;
  }

  /// Resumes the checkpoint in runDir (--resume) or initializes the
  /// parameters; returns the step up to which metrics.jsonl is kept.
  std::optional<std::int64_t> openRun() {
    std::optional<std::int64_t> keepMetrics;
    if (o.resume) {
      if (leader())
        if (int fixed = repairRunDir(runDir))
          log("cleaned up " + std::to_string(fixed) +
              " file(s) an interrupted checkpoint left in " + runDir.string());
      group->barrier(); // the other ranks read what rank 0 repaired
      state = readRunState(runDir);
      loadCheckpoint(runDir, trainer, state, /*withOptimizer=*/true);
      loader.restore(state.loader);
      keepMetrics = state.step;
      if (state.tokenizerFingerprint != manifest.tokenizerFingerprint)
        throw std::runtime_error(
            o.dataDir.string() + " was prepared with tokenizer " +
            manifest.tokenizerFingerprint + " but the run was trained with " +
            state.tokenizerFingerprint);
      log("resuming " + runDir.string() + " at step " +
          std::to_string(state.step));
    } else {
      trainer.initialize(hp.seed);
      if (!o.initFrom.empty()) {
        trainer.loadParameters(io::readSafetensors(o.initFrom).tensors,
                               o.initFrom.string());
        log("initialized from " + o.initFrom.string());
      }
      state.initSeed = hp.seed;
      state.tokenizerFingerprint = manifest.tokenizerFingerprint;
    }
    state.hp = hp;
    state.targetSteps = o.steps;
    state.dataDir = fs::absolute(o.dataDir).string();
    state.config = nlohmann::json::parse(modelConfigToJson(o.config));
    return keepMetrics;
  }

  bool shouldStop() {
    if (o.steps > 0 && trainer.stepsDone() >= o.steps)
      return true;
    if (o.timeBudget > 0 && elapsedNow >= o.timeBudget)
      return true;
    if (stopAgreed) {
      result.interrupted = true;
      return true;
    }
    return false;
  }

  RunResult stopOnNonFinite(const NonFiniteError &e) {
    result.nonFinite = true;
    result.message = std::string(e.what()) +
                     "; training stopped, the last good checkpoint in " +
                     runDir.string() + " (step " +
                     (fs::exists(runDir / "state.json")
                          ? std::to_string(readRunState(runDir).step)
                          : std::string("none written yet")) +
                     ") is kept";
    if (leader())
      writeLossCurve(runDir / "loss.svg", metrics->all(), title);
    return result;
  }

  /// With only a time budget, fixes the schedule's length once the step
  /// time is known (steps 2-4; the first one pays one-time costs).
  void fixScheduleFromTimeBudget() {
    if (scheduleFixed || stepsThisRun < 4)
      return;
    double per = (trainSeconds - firstStepSeconds) /
                 static_cast<double>(stepsThisRun - 1);
    double left = o.timeBudget - elapsedNow;
    std::int64_t est =
        trainer.stepsDone() + static_cast<std::int64_t>(0.97 * left / per);
    // Leave room for evaluations (about 2% of the time each).
    hp.totalSteps = std::max<std::int64_t>(est, trainer.stepsDone() + 1);
    if (hp.warmup >= hp.totalSteps)
      hp.warmup = hp.totalSteps / 10;
    trainer.setHyperparams(hp);
    state.hp = hp;
    scheduleFixed = true;
    log("time budget: about " + std::to_string(hp.totalSteps) + " steps at " +
        std::to_string(per * 1000).substr(0, 6) +
        " ms/step; the LR schedule decays over them");
  }

  std::optional<double> evaluate(std::int64_t maxBatches) {
    if (val.empty())
      return std::nullopt;
    return evaluateStreams(trainer, val, hp.batch, hp.seq, maxBatches).loss;
  }

  /// Metrics, evaluation, progress and checkpoints after a step; true when
  /// this was the run's last step.
  bool afterStep(const StepResult &r, double dt) {
    StepMetrics m;
    m.step = trainer.stepsDone();
    m.loss = r.loss;
    m.lr = r.lr;
    m.gradNorm = r.gradNorm;
    m.tokensPerSecond = dt > 0 ? r.tokens / dt : 0;
    m.elapsedSeconds = elapsedBefore + elapsedNow;
    const double avgStep = trainSeconds / static_cast<double>(stepsThisRun);
    const bool stopping = stopAgreed;
    const bool reachedEnd =
        (o.steps > 0 && m.step >= o.steps) ||
        (o.timeBudget > 0 && elapsedNow + avgStep >= o.timeBudget);
    const bool last = reachedEnd || stopping;
    result.interrupted = stopping && !reachedEnd;
    const bool doEval = (o.evalEvery > 0 && m.step % o.evalEvery == 0) || last;
    if (doEval) {
      m.valLoss = evaluate(reachedEnd ? 0 : o.evalBatches);
      if (m.valLoss)
        result.lastValLoss = m.valLoss;
    }
    if (leader())
      metrics->append(m);
    result.lastLoss = r.loss;
    result.steps = m.step;
    report(m, dt, avgStep, last);
    state.elapsedSeconds = m.elapsedSeconds;
    if (last)
      return true;
    if ((o.checkpointEvery > 0 && m.step % o.checkpointEvery == 0) || doEval)
      checkpoint();
    return false;
  }

  /// The progress line (at most every 200 ms unless it carries news).
  void report(const StepMetrics &m, double dt, double avgStep, bool last) {
    if (!o.progress || !leader())
      return;
    double eta = 0;
    if (o.steps > 0)
      eta = avgStep * static_cast<double>(o.steps - m.step);
    else if (o.timeBudget > 0)
      eta = o.timeBudget - elapsedNow;
    const std::string of = o.steps > 0     ? std::to_string(o.steps)
                           : scheduleFixed ? "~" + std::to_string(hp.totalSteps)
                                           : std::string("?");
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "step %lld/%s | loss %.4f | lr %.2e | gnorm %.3f | "
                  "%.0f tok/s | %.0f ms/step | ETA %s",
                  static_cast<long long>(m.step), of.c_str(), m.loss, m.lr,
                  m.gradNorm, m.tokensPerSecond, dt * 1000,
                  formatDuration(eta).c_str());
    std::string line = buf;
    if (m.valLoss) {
      std::snprintf(buf, sizeof buf, " | val %.4f", *m.valLoss);
      line += buf;
    }
    if (m.valLoss || last || !o.progressThrottle ||
        Clock::now() - lastProgress > std::chrono::milliseconds(200)) {
      o.progress(line);
      lastProgress = Clock::now();
    }
  }

  /// Rank 0 writes (every rank holds the same parameters and moments).
  void checkpoint() {
    if (!leader()) {
      if (trainer.shardsOptimizer())
        trainer.optimizerState(); // send this rank's moments to rank 0
      return;
    }
    state.step = trainer.stepsDone();
    state.loader = loader.state();
    saveCheckpoint(runDir, trainer, state);
    writeLossCurve(runDir / "loss.svg", metrics->all(), title);
  }

  const RunOptions &o;
  const fs::path runDir;
  data::Manifest manifest;
  Hyperparams hp;
  RunState state;
  Trainer trainer;
  data::DataLoader loader;
  const std::string title;
  std::optional<MetricsLog> metrics;
  std::vector<TokenStream> val;
  RunResult result;
  Clock::time_point start = Clock::now();
  collective::SingleProcess alone;
  collective::Collective *group = &alone;
  double elapsedNow = 0; // rank 0's seconds since start, at the last agreement
  bool stopAgreed = false;
  double elapsedBefore = 0;
  bool scheduleFixed = false;
  double trainSeconds = 0; // this invocation, excluding evals/checkpoints
  double firstStepSeconds = 0;
  std::int64_t stepsThisRun = 0;
  Clock::time_point lastProgress = Clock::now() - std::chrono::hours(1);
};
} // namespace

RunResult runTraining(FunctionRunner &runner, const RunOptions &o) {
  return TrainingLoop(runner, o).run();
}

} // namespace gpt::train
