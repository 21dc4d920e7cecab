// `gpt bench train`: times whole training steps (train_grad +
// apply_optimizer) of a compiled model on random tokens, and reports ms per
// step, tokens/s, model GFLOP/s and peak memory; `--json` for scripts,
// `--profile` for a per-kernel table.
#include "Commands.h"
#include "RunDir.h"

#include "artifact/Artifact.h"
#include "executor/CpuExecutor.h"
#include "train/ArtifactCache.h"
#include "train/Init.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <sys/resource.h>

namespace gpt::cli {
namespace {
struct BenchOptions {
  std::string preset = "tiny", config;
  int64_t vocab = 0, batch = 8, seq = 0;
  int steps = 5, warmup = 1, threads = 0;
  bool json = false, profile = false;
};

/// Multiply-adds of one token through the model, times 2 (forward FLOPs),
/// counting every matmul (attention over the full T, as PaLM's appendix).
double forwardFlopsPerToken(const ModelConfig &c, int64_t T) {
  double d = c.d_model, f = c.d_ff;
  double perLayer = 2 * (d * 3 * d + d * d + 2 * d * f) + 2 * 2 * T * d;
  return c.n_layer * perLayer + 2 * d * c.vocab_size;
}

double peakRssBytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;
}

int runBenchTrain(const BenchOptions &o) {
  ModelConfig config =
      o.config.empty() ? trainPreset(o.preset) : loadModelConfig(o.config);
  if (o.config.empty())
    config.vocab_size = o.vocab > 0 ? o.vocab : 50257;
  else if (o.vocab > 0)
    config.vocab_size = o.vocab;
  validateModelConfig(config, "bench config");
  const int64_t B = o.batch, T = o.seq > 0 ? o.seq : config.context_length;
  if (B <= 0 || T <= 0 || T > config.context_length)
    throw std::runtime_error("--batch must be > 0 and --seq in [1, " +
                             std::to_string(config.context_length) + "]");

  auto log = [&](const std::string &line) {
    if (!o.json)
      std::cerr << line << "\n";
  };
  auto path = train::compileArtifact(config, train::selfExecutable("gpt"), log);
  Artifact artifact = readArtifact(path.string());
  CpuExecutor exec(artifact, o.threads);

  // Parameters, optimizer state and gradient accumulators, named as the
  // artifact's inputs.
  std::map<std::string, train::Tensor> buffers =
      train::initParameters(config, 1234);
  std::vector<std::string> params;
  for (auto &[name, t] : buffers)
    params.push_back(name);
  for (const std::string &p : params)
    for (const char *prefix : {"grad.", "adam_m.", "adam_v."}) {
      train::Tensor z = buffers.at(p);
      std::fill(z.data.begin(), z.data.end(), 0);
      buffers[prefix + p] = std::move(z);
    }
  std::mt19937 rng(1);
  std::uniform_int_distribution<int32_t> token(0, config.vocab_size - 1);
  std::vector<int32_t> tokens(B * T), targets(B * T);
  for (int64_t i = 0; i < B * T; ++i) {
    tokens[i] = token(rng);
    targets[i] = token(rng);
  }
  std::vector<float> weights(B * T, 1.0f);
  float gradScale = 1.0f, step = 0.0f;
  std::vector<float> hparams = {3e-4f, 3e-5f, 10.0f, 1000.0f, 0.9f,
                                0.95f, 1e-8f, 0.1f,  1.0f};

  auto bind = [&](const std::string &fn) {
    std::map<std::string, TensorView> in;
    for (const FunctionInput &input : artifact.findFunction(fn)->inputs) {
      if (input.name == "tokens")
        in[input.name] = {DType::I32, {B, T}, tokens.data()};
      else if (input.name == "targets")
        in[input.name] = {DType::I32, {B, T}, targets.data()};
      else if (input.name == "weights")
        in[input.name] = {DType::F32, {B, T}, weights.data()};
      else if (input.name == "grad_scale")
        in[input.name] = {DType::F32, {}, &gradScale};
      else if (input.name == "step")
        in[input.name] = {DType::F32, {}, &step};
      else if (input.name == "hparams")
        in[input.name] = {DType::F32, {9}, hparams.data()};
      else {
        train::Tensor &t = buffers.at(input.name);
        in[input.name] = {DType::F32, t.shape, t.data.data()};
      }
    }
    return in;
  };
  auto trainGrad = bind("train_grad");
  auto applyOptimizer = bind("apply_optimizer");

  std::vector<double> times;
  double loss = 0;
  for (int i = 0; i < o.warmup + o.steps; ++i) {
    if (i == o.warmup && o.profile) {
      exec.resetProfile();
      exec.setProfiling(true);
    }
    auto t0 = std::chrono::steady_clock::now();
    loss = exec.run("train_grad", trainGrad).at("loss").f32.at(0);
    exec.run("apply_optimizer", applyOptimizer);
    std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    step += 1.0f;
    if (i >= o.warmup)
      times.push_back(dt.count());
    log("step " + std::to_string(i + 1) + ": " +
        std::to_string(dt.count() * 1e3) + " ms, loss " + std::to_string(loss));
  }
  std::sort(times.begin(), times.end());
  double median = times[times.size() / 2];
  double mean = 0;
  for (double t : times)
    mean += t / times.size();
  double tokensPerStep = static_cast<double>(B * T);
  double flops = 3.0 * forwardFlopsPerToken(config, T) * tokensPerStep;

  nlohmann::json out = {
      {"benchmark", "train"},
      {"config", nlohmann::json::parse(modelConfigToJson(config))},
      {"batch", B},
      {"seq", T},
      {"threads", o.threads},
      {"steps", o.steps},
      {"ms_per_step", median * 1e3},
      {"ms_per_step_mean", mean * 1e3},
      {"tokens_per_second", tokensPerStep / median},
      {"gflops_per_second", flops / median / 1e9},
      {"peak_memory_bytes", peakRssBytes()},
      {"final_loss", loss}};
  if (o.profile) {
    nlohmann::json table = nlohmann::json::object();
    for (const auto &[name, kt] : exec.profile())
      table[name] = {{"ms_per_step", kt.seconds * 1e3 / o.steps},
                     {"calls_per_step", kt.calls / o.steps}};
    out["kernels"] = table;
  }
  if (o.json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("train step: %.1f ms (median of %d), %.0f tokens/s, %.1f "
              "GFLOP/s, peak memory %.0f MiB\n",
              median * 1e3, o.steps, tokensPerStep / median,
              flops / median / 1e9, peakRssBytes() / (1 << 20));
  if (o.profile) {
    std::vector<std::pair<double, std::string>> rows;
    for (const auto &[name, kt] : exec.profile())
      rows.push_back({kt.seconds, name});
    std::sort(rows.rbegin(), rows.rend());
    std::printf("%-26s %10s %8s %7s\n", "kernel", "ms/step", "calls", "share");
    double total = 0;
    for (auto &r : rows)
      total += r.first;
    for (auto &[seconds, name] : rows)
      std::printf(
          "%-26s %10.2f %8lld %6.1f%%\n", name.c_str(), seconds * 1e3 / o.steps,
          static_cast<long long>(exec.profile().at(name).calls / o.steps),
          100.0 * seconds / total);
  }
  return 0;
}
} // namespace

void addBenchCommand(CLI::App &app) {
  CLI::App *bench =
      app.add_subcommand("bench", "Benchmark whole compiled runs (JSON with "
                                  "--json)");
  bench->require_subcommand(1);
  auto o = std::make_shared<BenchOptions>();
  CLI::App *train = bench->add_subcommand(
      "train", "Time training steps (train_grad + apply_optimizer) on random "
               "tokens: ms/step, tokens/s, GFLOP/s, peak memory");
  train->add_option("--preset", o->preset,
                    "Model shape: tiny, small, gpt2-124m (default tiny)");
  train->add_option("--config", o->config, "Model config JSON instead");
  train->add_option("--vocab", o->vocab,
                    "Vocabulary size (default: the config's, 50257 for "
                    "presets)");
  train->add_option("--batch", o->batch, "Sequences per step (default 8)");
  train->add_option("--seq", o->seq,
                    "Sequence length (default: the context length)");
  train->add_option("--steps", o->steps, "Timed steps (default 5)");
  train->add_option("--warmup", o->warmup, "Untimed first steps (default 1)");
  train->add_option("--threads", o->threads, "CPU threads (default: all)");
  train->add_flag("--json", o->json, "Print one JSON object");
  train->add_flag("--profile", o->profile, "Per-kernel time table");
  train->callback([o] {
    if (o->steps <= 0 || o->warmup < 0)
      throw std::runtime_error("--steps must be > 0 and --warmup >= 0");
    int rc = runBenchTrain(*o);
    if (rc != 0)
      std::exit(rc);
  });
}

} // namespace gpt::cli
