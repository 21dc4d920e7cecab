//===- BenchCommand.cpp ---------------------------------------------------===//
//
// `gpt bench train`: times whole training steps (train_grad +
// apply_optimizer) of a compiled model on random tokens, and reports ms per
// step, tokens/s, model GFLOP/s and peak memory; `--json` for scripts,
// `--profile` for a per-kernel table.
#include "Commands.h"
#include "RunDir.h"

#include "BackendFlags.h"
#include "runtime/artifact/Artifact.h"
#include "runtime/engine/Engine.h"
#include "runtime/executor/Executor.h"
#include "runtime/io/ArtifactCache.h"
#include "runtime/io/Safetensors.h"
#include "runtime/train/Init.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sys/resource.h>
#include <unistd.h>

namespace gpt::cli {
namespace {
struct BenchOptions {
  std::string preset = "tiny", config, artifact;
  int64_t vocab = 0, batch = 8, seq = 0;
  int steps = 5, warmup = 1, threads = 0;
  bool json = false, profile = false;
  BackendOptions backend;
};

/// Forward FLOPs of one token, averaged over a window of T (2 per
/// multiply-add, every matmul). Attention counts the causal (unmasked) part
/// only, as the kernel benchmarks do (docs/benchmarks.md, "FLOP
/// convention"): position t scores t + 1 keys, (T + 1) / 2 on average, in
/// QK^T and again in PV.
double forwardFlopsPerToken(const ModelConfig &c, int64_t T) {
  double d = c.d_model, f = c.d_ff;
  double attention = 2 * 2 * d * (static_cast<double>(T) + 1) / 2;
  double perLayer = 2 * (d * 3 * d + d * d + 2 * d * f) + attention;
  return c.n_layer * perLayer + 2 * d * c.vocab_size;
}

double peakRssBytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;
}

/// The benchmarked shape: a preset (vocabulary 50257 unless --vocab) or a
/// config file (its vocabulary unless --vocab).
ModelConfig benchConfig(const std::string &preset, const std::string &file,
                        int64_t vocab) {
  ModelConfig config =
      file.empty() ? trainPreset(preset) : loadModelConfig(file);
  if (vocab > 0)
    config.vocab_size = vocab;
  else if (file.empty())
    config.vocab_size = 50257;
  validateModelConfig(config, "bench config");
  return config;
}

int runBenchTrain(const BenchOptions &o) {
  ModelConfig config = benchConfig(o.preset, o.config, o.vocab);
  const int64_t B = o.batch, T = o.seq > 0 ? o.seq : config.context_length;
  if (B <= 0 || T <= 0 || T > config.context_length)
    throw std::runtime_error("--batch must be > 0 and --seq in [1, " +
                             std::to_string(config.context_length) + "]");

  auto log = [&](const std::string &line) {
    if (!o.json)
      std::cerr << line << "\n";
  };
  auto path = !o.artifact.empty()
                  ? std::filesystem::path(o.artifact)
                  : io::compileArtifact(config, io::selfExecutable("gpt"), log,
                                        artifactTarget(o.backend));
  Artifact artifact = readArtifact(path.string());
  checkArtifactConfig(artifact, config, path.string());
  BackendOptions backend = o.backend;
  backend.threads = o.threads;
  std::unique_ptr<Executor> execPtr = makeExecutor(artifact, backend);
  Executor &exec = *execPtr;
  log("running on " + exec.deviceDescription());

  // Parameters, optimizer state and gradient accumulators, named as the
  // artifact's inputs.
  std::map<std::string, io::Tensor> buffers =
      train::initParameters(config, 1234);
  std::vector<std::string> params;
  for (auto &[name, t] : buffers)
    params.push_back(name);
  for (const std::string &p : params)
    for (const char *prefix : {"grad.", "adam_m.", "adam_v."}) {
      io::Tensor z = buffers.at(p);
      std::fill(z.data.begin(), z.data.end(), 0);
      buffers[prefix + p] = std::move(z);
    }
  // As in `gpt train`: parameters and optimizer state live on the device.
  std::vector<std::string> resident;
  for (const auto &kv : buffers)
    resident.push_back(kv.first);
  exec.setResident(resident);
  std::mt19937 rng(1);
  std::uniform_int_distribution<int32_t> token(0, config.vocab_size - 1);
  std::vector<int32_t> tokens(B * T), targets(B * T);
  for (int64_t i = 0; i < B * T; ++i) {
    tokens[i] = token(rng);
    targets[i] = token(rng);
  }
  std::vector<float> weights(B * T, 1.0f);
  float gradScale = 1.0f;
  int32_t step = 0;
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
        in[input.name] = {DType::I32, {}, &step};
      else if (input.name == "hparams")
        in[input.name] = {DType::F32, {9}, hparams.data()};
      else {
        io::Tensor &t = buffers.at(input.name);
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
      {"backend", exec.backend()},
      {"device", exec.deviceDescription()},
      {"steps", o.steps},
      {"ms_per_step", median * 1e3},
      {"ms_per_step_mean", mean * 1e3},
      {"tokens_per_second", tokensPerStep / median},
      {"flops_per_step", flops},
      {"gflops_per_second", flops / median / 1e9},
      {"peak_memory_bytes", peakRssBytes()},
      {"peak_device_memory_bytes", exec.peakDeviceMemoryBytes()},
      {"kernel_scratch_bytes", exec.kernelScratchBytes()},
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
              "GFLOP/s, peak memory %.0f MiB",
              median * 1e3, o.steps, tokensPerStep / median,
              flops / median / 1e9, peakRssBytes() / (1 << 20));
  if (exec.peakDeviceMemoryBytes() > 0)
    std::printf(" host, %.0f MiB device",
                exec.peakDeviceMemoryBytes() / double(1 << 20));
  std::printf("\n");
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

struct GenerateBenchOptions {
  std::string model, preset = "tiny", config, artifact;
  int64_t vocab = 0;
  std::vector<int> promptLengths = {128, 512};
  std::vector<int> batches = {1, 8, 32};
  int decodeTokens = 64, clients = 16, threads = 0;
  bool json = false, profile = false;
  BackendOptions backend;
};

/// A run directory with random weights for a config (what the engine
/// loads: config.json and model.safetensors; it compiles the artifact).
std::filesystem::path randomRunDir(const ModelConfig &config) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() /
                 ("gpt_bench_generate_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << modelConfigToJson(config);
  io::SafetensorsFile weights;
  weights.tensors = train::initParameters(config, 1234);
  io::writeSafetensors(dir / "model.safetensors", weights);
  return dir;
}

using Clock = std::chrono::steady_clock;

/// Submits `prompts` at once, each generating exactly `tokens` tokens
/// (greedy, no stop tokens); returns per request the time to its first
/// token and the time its last token arrived, from the submit.
struct Timings {
  std::vector<double> firstToken, lastToken;
  double wall = 0;
};
Timings runBatch(Engine &engine,
                 const std::vector<std::vector<int32_t>> &prompts, int tokens) {
  std::mutex mutex;
  std::condition_variable done;
  size_t finished = 0;
  Timings t;
  t.firstToken.assign(prompts.size(), -1);
  t.lastToken.assign(prompts.size(), 0);
  SamplingParams sp;
  sp.temperature = 0.0f;
  sp.maxTokens = tokens;
  auto start = Clock::now();
  for (size_t i = 0; i < prompts.size(); ++i)
    engine.submit(prompts[i], sp, [&, i](const TokenEvent &e) {
      double now = std::chrono::duration<double>(Clock::now() - start).count();
      std::lock_guard<std::mutex> lock(mutex);
      if (e.finished) {
        if (!e.error.empty())
          std::cerr << "gpt bench: request failed: " << e.error << "\n";
        ++finished;
        done.notify_all();
        return;
      }
      if (t.firstToken[i] < 0)
        t.firstToken[i] = now;
      t.lastToken[i] = now;
    });
  std::unique_lock<std::mutex> lock(mutex);
  done.wait(lock, [&] { return finished == prompts.size(); });
  t.wall = std::chrono::duration<double>(Clock::now() - start).count();
  return t;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

int runBenchGenerate(const GenerateBenchOptions &o) {
  std::filesystem::path dir = o.model;
  bool temporary = false;
  ModelConfig config;
  if (o.model.empty()) {
    config = benchConfig(o.preset, o.config, o.vocab);
    dir = randomRunDir(config);
    if (!o.artifact.empty()) // precompiled: no gptc needed (GPU machines)
      std::filesystem::copy_file(o.artifact, dir / "artifact.gptart");
    temporary = true;
  } else {
    config = loadModelConfig((dir / "config.json").string());
  }
  EngineOptions eo;
  eo.threads = o.threads;
  eo.backend = o.backend.name;
  eo.device = o.backend.device;
  eo.profile = o.profile;
  eo.maxBatch = std::max(o.clients,
                         *std::max_element(o.batches.begin(), o.batches.end()));
  nlohmann::json out = {
      {"benchmark", "generate"},
      {"config", nlohmann::json::parse(modelConfigToJson(config))},
      {"threads", o.threads},
      {"backend", o.backend.name}};
  {
    Engine engine(dir.string(), eo);
    std::mt19937 rng(1);
    std::uniform_int_distribution<int32_t> token(0, config.vocab_size - 1);
    auto prompt = [&](int n) {
      std::vector<int32_t> p(n);
      for (int32_t &x : p)
        x = token(rng);
      return p;
    };
    runBatch(engine, {prompt(8)}, 2); // warm-up: arenas, pages, pool
    for (int len : o.promptLengths) {
      if (len + 1 > config.context_length)
        continue;
      // One untimed run (records the command buffers for this length),
      // then the median of three, as llama-bench repeats its runs.
      runBatch(engine, {prompt(len)}, 1);
      engine.resetKernelProfile();
      std::vector<double> times;
      for (int rep = 0; rep < 3; ++rep)
        times.push_back(runBatch(engine, {prompt(len)}, 1).firstToken[0]);
      double ttft = percentile(times, 0.5);
      out["prefill"][std::to_string(len)] = {{"tokens_per_second", len / ttft},
                                             {"ms", ttft * 1e3}};
      if (o.profile) {
        // Per prompt: its prefill calls and the decode of its last token.
        nlohmann::json table = nlohmann::json::object();
        for (const auto &[name, tc] : engine.kernelProfile())
          table[name] = {{"ms_per_prompt", tc.first * 1e3 / 3},
                         {"calls_per_prompt", tc.second / 3}};
        out["prefill_kernels"][std::to_string(len)] = table;
      }
    }
    const int tokens =
        std::min<int>(o.decodeTokens, config.context_length - 17);
    engine.resetKernelProfile(); // the table covers the decode runs
    int64_t decodeSteps = 0;
    for (int b : o.batches) {
      std::vector<std::vector<int32_t>> prompts;
      for (int i = 0; i < b; ++i)
        prompts.push_back(prompt(16));
      Timings t = runBatch(engine, prompts, tokens);
      // Decode rate: tokens after each request's first, over the time from
      // the last first token (everyone admitted) to the end.
      double admitted =
          *std::max_element(t.firstToken.begin(), t.firstToken.end());
      double end = *std::max_element(t.lastToken.begin(), t.lastToken.end());
      double rate = b * (tokens - 1) / std::max(1e-9, end - admitted);
      out["decode"][std::to_string(b)] = {
          {"tokens_per_second", rate},
          {"ms_per_step", 1e3 * (end - admitted) / (tokens - 1)}};
      decodeSteps += tokens - 1;
    }
    if (o.profile) {
      // Per decode step, averaged over every batch size above (the prompts'
      // prefill calls are included: 16 tokens each).
      nlohmann::json table = nlohmann::json::object();
      for (const auto &[name, tc] : engine.kernelProfile())
        table[name] = {{"ms_per_step", tc.first * 1e3 / decodeSteps},
                       {"calls", tc.second}};
      out["decode_kernels"] = table;
    }
    // Concurrent clients: all arrive at once with 64-token prompts.
    std::vector<std::vector<int32_t>> prompts;
    for (int i = 0; i < o.clients; ++i)
      prompts.push_back(
          prompt(std::min<int64_t>(64, config.context_length - tokens - 1)));
    Timings t = runBatch(engine, prompts, tokens);
    out["serving"] = {
        {"clients", o.clients},
        {"aggregate_tokens_per_second", o.clients * tokens / t.wall},
        {"ttft_p50_ms", 1e3 * percentile(t.firstToken, 0.5)},
        {"ttft_p99_ms", 1e3 * percentile(t.firstToken, 0.99)}};
    out["peak_device_memory_bytes"] = engine.peakDeviceMemoryBytes();
  }
  out["peak_memory_bytes"] = peakRssBytes();
  if (temporary)
    std::filesystem::remove_all(dir);
  if (o.json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (auto &[len, r] : out["prefill"].items())
    std::printf("prefill %5s tokens: %8.0f tokens/s\n", len.c_str(),
                r["tokens_per_second"].get<double>());
  for (auto &[b, r] : out["decode"].items())
    std::printf("decode batch %3s:    %8.1f tokens/s (%.1f ms/step)\n",
                b.c_str(), r["tokens_per_second"].get<double>(),
                r["ms_per_step"].get<double>());
  if (o.profile) {
    std::vector<std::pair<double, std::string>> rows;
    double total = 0;
    for (auto &[name, r] : out["decode_kernels"].items()) {
      rows.push_back({r["ms_per_step"].get<double>(), name});
      total += rows.back().first;
    }
    std::sort(rows.rbegin(), rows.rend());
    std::printf("%-26s %12s %7s\n", "decode kernel", "ms/step", "share");
    for (auto &[ms, name] : rows)
      std::printf("%-26s %12.3f %6.1f%%\n", name.c_str(), ms,
                  total > 0 ? 100.0 * ms / total : 0.0);
  }
  std::printf(
      "%d clients: %.1f tokens/s aggregate, TTFT p50 %.0f ms, p99 %.0f ms\n",
      o.clients, out["serving"]["aggregate_tokens_per_second"].get<double>(),
      out["serving"]["ttft_p50_ms"].get<double>(),
      out["serving"]["ttft_p99_ms"].get<double>());
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
  addBackendFlags(train, o->backend);
  train->add_flag("--json", o->json, "Print one JSON object");
  train->add_option("--artifact", o->artifact,
                    "A compiled artifact to use instead of running gptc (its "
                    "config and target must match)");
  train->add_flag("--profile", o->profile, "Per-kernel time table");
  auto g = std::make_shared<GenerateBenchOptions>();
  CLI::App *generate = bench->add_subcommand(
      "generate", "Generation through the engine: prefill tokens/s per prompt "
                  "length, decode tokens/s per batch size, concurrent clients "
                  "(aggregate tokens/s, time to first token)");
  generate->add_option("--model", g->model,
                       "Run directory (default: random weights of --preset "
                       "or --config)");
  generate->add_option("--preset", g->preset, "Model shape (default tiny)");
  generate->add_option("--config", g->config, "Model config JSON instead");
  generate->add_option("--vocab", g->vocab, "Vocabulary size (default 50257)");
  generate
      ->add_option("--prompt-lengths", g->promptLengths,
                   "Prefill prompt lengths (default 128,512)")
      ->delimiter(',');
  generate
      ->add_option("--batches", g->batches,
                   "Decode batch sizes (default 1,8,32)")
      ->delimiter(',');
  generate->add_option("--decode-tokens", g->decodeTokens,
                       "Tokens generated per request (default 64)");
  generate->add_option("--clients", g->clients,
                       "Concurrent clients of the serving run (default 16)");
  generate->add_option("--threads", g->threads, "CPU threads (default: all)");
  addBackendFlags(generate, g->backend);
  generate->add_flag("--json", g->json, "Print one JSON object");
  generate->add_option("--artifact", g->artifact,
                       "A compiled artifact (with prefill/decode) to use "
                       "instead of running gptc; needs random weights (no "
                       "--model)");
  generate->add_flag("--profile", g->profile,
                     "Per-kernel time of the decode runs (GPU timestamps on "
                     "Vulkan)");
  generate->callback([g] {
    if (g->decodeTokens < 2 || g->clients < 1 || g->batches.empty())
      throw std::runtime_error("--decode-tokens must be >= 2, --clients >= 1");
    int rc = runBenchGenerate(*g);
    if (rc != 0)
      std::exit(rc);
  });
  train->callback([o] {
    if (o->steps <= 0 || o->warmup < 0)
      throw std::runtime_error("--steps must be > 0 and --warmup >= 0");
    int rc = runBenchTrain(*o);
    if (rc != 0)
      std::exit(rc);
  });
}

} // namespace gpt::cli
