//===- TrainCommand.cpp ---------------------------------------------------===//
//
// gpt train
#include "BackendFlags.h"
#include "Commands.h"
#include "RunDir.h"

#include "runtime/collective/Collective.h"
#include "runtime/data/Manifest.h"
#include "runtime/io/ArtifactCache.h"
#include "runtime/io/FileIO.h"
#include "runtime/train/Checkpoint.h"
#include "runtime/train/ExecutorRunner.h"
#include "runtime/train/TrainRun.h"
#include "schema/KernelRegistry.h"
#ifdef GPT_HAVE_VULKAN
#include "runtime/vulkan/VulkanExecutor.h"
#endif

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <unistd.h>

namespace gpt::cli {
namespace fs = std::filesystem;

namespace {
std::atomic<bool> gStop{false};
extern "C" void onSigint(int) {
  if (gStop.exchange(true))
    std::_Exit(130); // second Ctrl-C: leave at once
}

struct TrainOpts {
  std::string config, preset, data, out, artifact, initFrom;
  std::int64_t steps = 0;
  double timeBudget = 0;
  std::int64_t batch = 0, seq = 0, gradAccum = 1, warmup = -1, decaySteps = 0;
  double lr = 0, minLr = -1, weightDecay = 0.1, gradClip = 1.0, beta1 = 0.9,
         beta2 = 0.95, eps = 1e-8;
  std::uint64_t seed = 1337;
  std::int64_t evalEvery = -1, evalBatches = 20, checkpointEvery = 0;
  int threads = 0;
  BackendOptions backend;
  bool resume = false;
  double collectiveTimeout = 300;
  bool shardOptimizer = false;
  std::string argv0;
};

/// Training artifacts average gradients over the ranks of an MPI job
/// (--data-parallel; alone the reductions are no-ops), so one run
/// directory trains and resumes with any number of ranks.
const std::vector<std::string> kTrainingFlags = {"--data-parallel"};

/// The run's artifact for this backend: `candidate` when it fits (target,
/// and reducing when there are several ranks), else compiled.
fs::path trainingArtifact(const fs::path &candidate, const ModelConfig &config,
                          const BackendOptions &backend, int ranks,
                          const std::function<void(const std::string &)> &log) {
  const std::string target = artifactTarget(backend);
  if (!candidate.empty() && fs::exists(candidate)) {
    Artifact a = readArtifact(candidate.string());
    bool reduces = false;
    for (const Function &f : a.functions)
      for (const Kernel &k : f.kernels)
        reduces = reduces || k.kernel == kernelName(KernelId::AllReduce);
    if (a.target == target && (ranks == 1 || reduces))
      return candidate;
  }
  return io::compileArtifact(config, io::selfExecutable(nullptr), log, target,
                             kTrainingFlags);
}

// The model config of a fresh run, with vocab_size from the data.
ModelConfig resolveConfig(const TrainOpts &o, std::int64_t vocab) {
  if (!o.initFrom.empty()) {
    // Fine-tuning: the shape is the trained model's; the data must fit its
    // vocabulary (prepare it with that run's tokenizer).
    if (!o.config.empty() || !o.preset.empty())
      throw std::runtime_error("--init-from takes the model shape from that "
                               "run: drop --config / --preset");
    ModelConfig c =
        loadModelConfig((fs::path(o.initFrom) / "config.json").string());
    if (vocab > c.vocab_size)
      throw std::runtime_error(
          "the data's vocabulary (" + std::to_string(vocab) +
          ") is larger than the model's in " + o.initFrom + " (" +
          std::to_string(c.vocab_size) +
          "): prepare the data with that run's tokenizer/");
    return c;
  }
  if (o.config.empty() == o.preset.empty())
    throw std::runtime_error("give exactly one of --config FILE or --preset "
                             "tiny|small|gpt2-124m");
  ModelConfig c;
  if (!o.preset.empty()) {
    c = trainPreset(o.preset);
  } else {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(io::readFile(o.config));
    } catch (const nlohmann::json::exception &e) {
      throw std::runtime_error(o.config + ": " + e.what());
    }
    if (j.is_object())
      j["vocab_size"] = vocab; // the data's tokenizer decides
    c = parseModelConfig(j.dump(), o.config);
  }
  c.vocab_size = vocab;
  validateModelConfig(c, o.preset.empty() ? o.config : "--preset " + o.preset);
  return c;
}

int runTrain(const TrainOpts &o, CLI::App *cmd, collective::Collective &group) {
  const fs::path runDir = o.out;
  const bool leader = group.rank() == 0;
  const int ranks = group.worldSize();
  auto log = [leader](const std::string &s) {
    if (leader)
      std::cerr << s << "\n";
  };
  if (o.steps < 0 || o.timeBudget < 0)
    throw std::runtime_error("--steps and --time-budget must be positive");

  train::RunOptions ro;
  ro.runDir = runDir;
  ModelConfig config;
  train::Hyperparams hp;
  fs::path artifact;
  if (o.resume) {
    train::RunState st = train::readRunState(runDir);
    config = loadModelConfig((runDir / "config.json").string());
    hp = st.hp;
    ro.dataDir = o.data.empty() ? fs::path(st.dataDir) : fs::path(o.data);
    for (const char *opt :
         {"--config", "--preset", "--batch", "--seq", "--lr", "--min-lr",
          "--warmup", "--weight-decay", "--grad-clip", "--seed", "--beta1",
          "--beta2", "--eps", "--artifact"})
      if (cmd->count(opt))
        log(std::string("note: ") + opt +
            " is ignored with --resume (the checkpoint's value is kept)");
    if (o.decaySteps > 0)
      hp.totalSteps = o.decaySteps;
    if (cmd->count("--grad-accum") && o.gradAccum != hp.gradAccum) {
      // Resuming with another number of ranks: keep the global batch
      // (batch x ranks x grad_accum) by changing grad_accum.
      if (o.gradAccum < 1)
        throw std::runtime_error("--grad-accum must be >= 1");
      log("note: grad_accum " + std::to_string(hp.gradAccum) + " -> " +
          std::to_string(o.gradAccum) + " from this step on");
      hp.gradAccum = o.gradAccum;
    }
    if (o.steps == 0 && o.timeBudget == 0)
      throw std::runtime_error("--resume needs --steps N (the new total) or "
                               "--time-budget SECONDS");
    artifact = trainingArtifact(runDir / "artifact.gptart", config, o.backend,
                                ranks, log);
  } else {
    if (o.data.empty())
      throw std::runtime_error("--data PREPARED_DIR is required");
    if (o.steps == 0 && o.timeBudget == 0)
      throw std::runtime_error("give --steps N or --time-budget SECONDS");
    ro.dataDir = o.data;
    data::Manifest m = data::Manifest::load(ro.dataDir);
    config = resolveConfig(o, m.vocabSize);
    const bool big = config.d_model >= 768;

    hp.batch = o.batch > 0 ? o.batch : 8;
    hp.seq = o.seq > 0 ? o.seq : config.context_length;
    if (hp.seq > config.context_length)
      throw std::runtime_error("--seq " + std::to_string(hp.seq) +
                               " exceeds the context length " +
                               std::to_string(config.context_length));
    hp.gradAccum = o.gradAccum;
    if (hp.gradAccum < 1)
      throw std::runtime_error("--grad-accum must be >= 1");
    hp.lr = o.lr > 0 ? o.lr : config.d_model <= 256 ? 2e-3 : big ? 6e-4 : 1e-3;
    hp.minLr = o.minLr >= 0 ? o.minLr : hp.lr / 10;
    hp.totalSteps = o.decaySteps > 0 ? o.decaySteps : o.steps;
    hp.warmup = o.warmup >= 0 ? o.warmup
                : hp.totalSteps > 0
                    ? std::min<std::int64_t>(100, hp.totalSteps / 10)
                    : 20;
    hp.beta1 = o.beta1;
    hp.beta2 = o.beta2;
    hp.eps = o.eps;
    hp.weightDecay = o.weightDecay;
    hp.gradClip = o.gradClip;
    hp.seed = o.seed;
    if (hp.totalSteps == 0)
      hp.totalSteps = 1; // replaced once the step time is measured
    if (!o.artifact.empty()) {
      artifact = o.artifact;
    } else {
      artifact =
          io::compileArtifact(config, io::selfExecutable(o.argv0.c_str()), log,
                              artifactTarget(o.backend), kTrainingFlags);
    }
    {
      // Check the artifact before writing anything into the run directory.
      Artifact probe = readArtifact(artifact.string());
      checkArtifactConfig(probe, config, artifact.string());
      if (probe.target != artifactTarget(o.backend))
        throw std::runtime_error(artifact.string() + ": compiled for target '" +
                                 probe.target + "', --backend " +
                                 o.backend.name + " runs target '" +
                                 artifactTarget(o.backend) + "'");
    }
    if (leader)
      train::prepareRunDir(runDir, ro.dataDir, config, artifact);
    group.barrier(); // the run directory exists for every rank
    artifact = runDir / "artifact.gptart";
  }
  ro.config = config;
  ro.hp = hp;
  ro.steps = o.steps;
  ro.timeBudget = o.timeBudget;
  ro.resume = o.resume;
  if (!o.initFrom.empty())
    ro.initFrom = fs::path(o.initFrom) / "model.safetensors";
  ro.evalEvery =
      o.evalEvery >= 0
          ? o.evalEvery
          : (o.steps > 0 ? std::max<std::int64_t>(1, o.steps / 10) : 50);
  ro.evalBatches = o.evalBatches;
  ro.checkpointEvery = o.checkpointEvery;
  const bool tty = ::isatty(2);
  ro.log = log;
  ro.progressThrottle = tty;
  ro.progress = [tty](const std::string &line) {
    if (tty)
      std::cerr << "\r\033[K" << line << std::flush;
    else
      std::cerr << line << "\n";
  };
  ro.stopRequested = &gStop;
  ro.group = &group;
  ro.shardOptimizer = o.shardOptimizer;

  BackendOptions backend = o.backend;
  backend.threads = o.threads;
#ifdef GPT_HAVE_VULKAN
  if (backend.name == "vulkan" && backend.device < 0 && ranks > 1) {
    // One device per rank of a host, round robin over what there is.
    const std::size_t devices = listVulkanDevices().size();
    if (devices > 0)
      backend.device = static_cast<int>(group.localRank() % devices);
  }
#endif
  train::ExecutorRunner runner(artifact, backend);
  checkArtifactConfig(runner.artifact(), config, artifact.string());
  log("running on " + runner.executor().deviceDescription());
  if (ranks > 1)
    log("data parallel: " + group.description() + "; global batch " +
        std::to_string(hp.batch * ranks * hp.gradAccum) + " sequences (" +
        std::to_string(hp.batch) + " x " + std::to_string(ranks) + " ranks x " +
        std::to_string(hp.gradAccum) + " micro-batches)" +
        (o.shardOptimizer ? "; optimizer state sharded over the ranks" : ""));
  log("training " + std::to_string(config.n_layer) + " layers, d_model " +
      std::to_string(config.d_model) + ", vocab " +
      std::to_string(config.vocab_size) + ", B=" + std::to_string(hp.batch) +
      " T=" + std::to_string(hp.seq) + " (x" + std::to_string(hp.gradAccum) +
      " micro-batches) into " + runDir.string());
  auto prev = std::signal(SIGINT, onSigint);
  train::RunResult r = train::runTraining(runner, ro);
  std::signal(SIGINT, prev);
  if (tty && leader)
    std::cerr << "\n";
  if (!leader)
    return r.nonFinite ? 1 : r.interrupted ? 130 : 0;
  if (r.nonFinite) {
    std::cerr << "gpt train: error: " << r.message << "\n";
    return 1;
  }
  char buf[256];
  std::snprintf(buf, sizeof buf, "step %lld: loss %.4f", (long long)r.steps,
                r.lastLoss);
  std::string summary = buf;
  if (r.lastValLoss) {
    std::snprintf(buf, sizeof buf, ", val loss %.4f", *r.lastValLoss);
    summary += buf;
  }
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  std::snprintf(buf, sizeof buf, "; %.1f s training, peak memory %.0f MiB",
                r.trainSeconds, ru.ru_maxrss / 1024.0);
  summary += buf;
  std::cout << summary << "; checkpoint in " << runDir.string() << "\n";
  if (r.interrupted) {
    std::cerr << "interrupted: checkpoint written at step " << r.steps
              << "; continue with --resume\n";
    return 130;
  }
  return 0;
}
} // namespace

void addTrainCommand(CLI::App &app) {
  auto *cmd = app.add_subcommand(
      "train", "Train a GPT model on prepared data (see `gpt data prepare`)");
  auto o = std::make_shared<TrainOpts>();
  cmd->add_option("--config", o->config,
                  "Model config JSON (vocab_size comes from the data)");
  cmd->add_option("--preset", o->preset, "Model shape: tiny, small, gpt2-124m");
  cmd->add_option("--data", o->data,
                  "Prepared data directory (default with --resume: the "
                  "run's)");
  cmd->add_option("--out", o->out, "Run directory (checkpoints, metrics)")
      ->required();
  cmd->add_option("--steps", o->steps, "Total optimizer steps of the run");
  cmd->add_option("--time-budget", o->timeBudget,
                  "Train for this many seconds (this invocation)");
  cmd->add_option("--batch", o->batch, "Sequences per micro-batch (default 8)");
  cmd->add_option("--seq", o->seq,
                  "Sequence length (default: the context length)");
  cmd->add_option("--lr", o->lr,
                  "Peak learning rate (default 2e-3 for d_model<=256, 6e-4 for "
                  "d_model>=768, else 1e-3)");
  cmd->add_option("--min-lr", o->minLr, "Final learning rate (default lr/10)");
  cmd->add_option("--warmup", o->warmup,
                  "Linear warm-up steps (default min(100, steps/10))");
  cmd->add_option("--lr-decay-steps", o->decaySteps,
                  "Length of the cosine schedule (default --steps; fix it to "
                  "stop early and --resume exactly)");
  cmd->add_option("--weight-decay", o->weightDecay, "AdamW weight decay")
      ->capture_default_str();
  cmd->add_option("--grad-clip", o->gradClip,
                  "Global gradient-norm clip (0: off)")
      ->capture_default_str();
  cmd->add_option("--beta1", o->beta1)->capture_default_str();
  cmd->add_option("--beta2", o->beta2)->capture_default_str();
  cmd->add_option("--eps", o->eps)->capture_default_str();
  cmd->add_option("--grad-accum", o->gradAccum,
                  "Micro-batches per optimizer step")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of init and data order")
      ->capture_default_str();
  cmd->add_option("--eval-every", o->evalEvery,
                  "Validate (and checkpoint) every N steps (default steps/10)");
  cmd->add_option("--eval-batches", o->evalBatches,
                  "Validation batches per periodic evaluation (the final one "
                  "uses the whole split)")
      ->capture_default_str();
  cmd->add_option("--checkpoint-every", o->checkpointEvery,
                  "Checkpoint every N steps (default: at each evaluation)");
  cmd->add_option("--threads", o->threads, "CPU threads (default: all)");
  addBackendFlags(cmd, o->backend);
  cmd->add_option("--init-from", o->initFrom,
                  "Fine-tune: start from the weights of this run directory "
                  "(trained or `gpt import`ed); its config fixes the shape");
  cmd->add_option("--artifact", o->artifact,
                  "Use this compiled artifact instead of running gptc");
  cmd->add_flag("--resume", o->resume,
                "Continue the run in --out up to --steps");
  cmd->add_flag("--shard-optimizer", o->shardOptimizer,
                "Under mpirun: each rank keeps the AdamW moments of 1/N of "
                "the parameters (ZeRO-1); same results and checkpoints");
  cmd->add_option("--collective-timeout", o->collectiveTimeout,
                  "Under mpirun: seconds a rank waits for the others before "
                  "the job is aborted, naming the missing ranks")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([o, cmd] {
    o->argv0 = "gpt";
    collective::Options co;
    co.timeoutSeconds = o->collectiveTimeout;
    std::unique_ptr<collective::Collective> group =
        collective::fromEnvironment(io::selfExecutable("gpt").string(), co);
    int rc = 0;
    if (group->worldSize() == 1) {
      rc = runTrain(*o, cmd, *group);
    } else {
      // A rank that fails must take the job down, not leave the others
      // waiting in a collective.
      try {
        rc = runTrain(*o, cmd, *group);
      } catch (const std::exception &e) {
        group->abort("gpt train: rank " + std::to_string(group->rank()) +
                     ": error: " + e.what());
      }
    }
    group.reset(); // MPI_Finalize, every rank together
    if (rc != 0)
      std::exit(rc);
  });
}

} // namespace gpt::cli
