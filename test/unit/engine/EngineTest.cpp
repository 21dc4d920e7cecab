//===- EngineTest.cpp -----------------------------------------------------===//
//
// The generation engine on a tiny model compiled by gptc --generation with
// random weights: prefill + decode over the paged KV cache must produce the
// same greedy tokens as recomputing `forward` over the whole window; batching,
// preemption and cancellation must not change any request's output.
#include "runtime/engine/Engine.h"

#include "runtime/artifact/Artifact.h"
#include "runtime/executor/CpuExecutor.h"
#include "runtime/io/ArtifactCache.h"
#include "runtime/io/Safetensors.h"
#include "runtime/train/Init.h"
#include "schema/ModelConfig.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <unistd.h>

using namespace gpt;
namespace fs = std::filesystem;

namespace {

fs::path testRoot();

ModelConfig tinyConfig(bool rope = false) {
  ModelConfig c;
  c.rope = rope;
  c.vocab_size = 53;
  c.context_length = 40;
  c.n_layer = 2;
  c.n_head = 2;
  c.d_model = 16;
  c.d_ff = 64;
  return c;
}

/// A run directory: config.json, artifact.gptart (gptc, with or without
/// --generation), model.safetensors (random weights, scaled up so that the
/// logits are far from uniform and greedy choices are clear).
fs::path makeRunDir(const std::string &name, bool generation,
                    bool rope = false) {
  fs::path dir = testRoot() / name;
  fs::create_directories(dir);
  ModelConfig config = tinyConfig(rope);
  {
    std::ofstream out(dir / "config.json");
    out << modelConfigToJson(config);
  }
  std::vector<std::string> argv = {std::string(GPT_BINARY_DIR) + "/bin/gptc",
                                   "--config",
                                   (dir / "config.json").string(),
                                   "--emit=artifact",
                                   "-o",
                                   (dir / "artifact.gptart").string()};
  if (generation)
    argv.push_back("--generation");
  else
    argv.push_back("--no-generation");
  std::string log;
  int rc = io::runProcess(argv, log);
  if (rc != 0 && !generation) { // a gptc that only knows --generation
    argv.pop_back();
    rc = io::runProcess(argv, log);
  }
  EXPECT_EQ(rc, 0) << log;
  io::SafetensorsFile weights;
  weights.tensors = train::initParameters(config, 7);
  for (auto &kv : weights.tensors) {
    float *p = kv.second.f32();
    for (int64_t i = 0; i < kv.second.numel(); ++i)
      p[i] *= kv.first.find("ln") == std::string::npos ? 15.0f : 1.0f;
  }
  io::writeSafetensors(dir / "model.safetensors", weights);
  return dir;
}

fs::path testRoot() {
  return fs::temp_directory_path() /
         ("gpt_engine_test_" + std::to_string(::getpid()));
}

/// Removes the run directories when the tests are done.
class CleanUp : public ::testing::Environment {
public:
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(testRoot(), ec);
  }
};
const auto *const kCleanUp = ::testing::AddGlobalTestEnvironment(new CleanUp);

const fs::path &runDir() {
  static fs::path dir = makeRunDir("gen", true);
  return dir;
}

/// Greedy generation by running `forward` over the whole window each step.
class Reference {
public:
  explicit Reference(const fs::path &dir)
      : exec_(readArtifact((dir / "artifact.gptart").string()), 2),
        weights_(io::readSafetensors(dir / "model.safetensors")) {
    for (auto &kv : weights_.tensors)
      params_[kv.first] = {DType::F32, kv.second.shape, kv.second.data.data()};
  }
  std::vector<int32_t> greedy(std::vector<int32_t> tokens, int n) {
    std::vector<int32_t> out;
    const int64_t V = tinyConfig().vocab_size;
    for (int i = 0; i < n; ++i) {
      std::map<std::string, TensorView> in = params_;
      in["tokens"] = {DType::I32, {1, int64_t(tokens.size())}, tokens.data()};
      auto res = exec_.run("forward", in);
      const std::vector<float> &logits = res.at("logits").f32;
      const float *last = logits.data() + (tokens.size() - 1) * V;
      int32_t best = 0;
      for (int64_t v = 1; v < V; ++v)
        if (last[v] > last[best])
          best = int32_t(v);
      out.push_back(best);
      tokens.push_back(best);
    }
    return out;
  }

private:
  CpuExecutor exec_;
  io::SafetensorsFile weights_;
  std::map<std::string, TensorView> params_;
};

/// Collects the events of one request.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<TokenEvent> events;
  std::vector<int32_t> tokens;
  bool finished = false;
  std::string reason, error;

  std::function<void(const TokenEvent &)> callback() {
    return [this](const TokenEvent &ev) {
      std::lock_guard<std::mutex> lock(mu);
      EXPECT_FALSE(finished) << "event after the final one";
      events.push_back(ev);
      if (ev.finished) {
        EXPECT_EQ(ev.token, -1);
        finished = true;
        reason = ev.finishReason;
        error = ev.error;
      } else {
        tokens.push_back(ev.token);
      }
      cv.notify_all();
    };
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] {
      return finished;
    })) << "request did not finish";
  }
};

SamplingParams greedy(int maxTokens) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.maxTokens = maxTokens;
  return p;
}

std::vector<int32_t> prompt(int n, int salt) {
  std::vector<int32_t> p;
  for (int i = 0; i < n; ++i)
    p.push_back((i * 7 + salt * 13 + 3) % tinyConfig().vocab_size);
  return p;
}

std::vector<int32_t> generate(Engine &engine, const std::vector<int32_t> &p,
                              const SamplingParams &params,
                              std::string *reason = nullptr) {
  Collector c;
  engine.submit(p, params, c.callback());
  c.wait();
  if (reason)
    *reason = c.reason;
  EXPECT_TRUE(c.error.empty()) << c.error;
  return c.tokens;
}

void waitIdle(Engine &engine) {
  for (int i = 0; i < 2000; ++i) {
    EngineStats s = engine.stats();
    if (s.running == 0 && s.queued == 0 && s.kvBlocksUsed == 0)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

} // namespace

TEST(Engine, GreedyMatchesForwardRecompute) {
  Reference ref(runDir());
  EngineOptions opt;
  opt.threads = 2;
  opt.prefillChunk = 5; // several prefill chunks per prompt
  Engine engine(runDir().string(), opt);
  EXPECT_EQ(engine.contextLength(), 40);
  EXPECT_EQ(engine.vocabSize(), 53);
  for (int len : {1, 2, 16, 17, 23}) {
    std::vector<int32_t> p = prompt(len, len);
    int n = 40 - len; // up to the full context, crossing block boundaries
    std::string reason;
    std::vector<int32_t> got = generate(engine, p, greedy(n), &reason);
    EXPECT_EQ(got, ref.greedy(p, n)) << "prompt length " << len;
    EXPECT_EQ(reason, "length");
  }
  waitIdle(engine);
  EngineStats s = engine.stats();
  EXPECT_EQ(s.requests, 5);
  EXPECT_EQ(s.kvBlocksUsed, 0);
  EXPECT_EQ(s.kvBlockSize, 16);
  EXPECT_GT(s.decodeTokensPerSecond, 0);
}

// RoPE: prefill and decode rotate q and k at start + t through the paged
// cache; the full forward pass rotates at t. Same greedy tokens.
TEST(Engine, RopeGreedyMatchesForwardRecompute) {
  fs::path dir = makeRunDir("rope", true, /*rope=*/true);
  Reference ref(dir);
  EngineOptions opt;
  opt.threads = 2;
  opt.prefillChunk = 5;
  Engine engine(dir.string(), opt);
  for (int len : {1, 17, 23}) {
    std::vector<int32_t> p = prompt(len, len);
    int n = 40 - len;
    std::vector<int32_t> got = generate(engine, p, greedy(n));
    EXPECT_EQ(got, ref.greedy(p, n)) << "prompt length " << len;
  }
}

TEST(Engine, BatchedEqualsAlone) {
  Reference ref(runDir());
  EngineOptions opt;
  opt.threads = 2;
  opt.maxBatch = 3; // five requests: two wait for a slot
  opt.prefillChunk = 8;
  Engine engine(runDir().string(), opt);
  std::vector<int> lengths = {1, 4, 9, 15, 22};
  std::vector<std::unique_ptr<Collector>> cs;
  for (size_t i = 0; i < lengths.size(); ++i) {
    cs.push_back(std::make_unique<Collector>());
    engine.submit(prompt(lengths[i], int(i)), greedy(12 + int(i)),
                  cs.back()->callback());
  }
  for (size_t i = 0; i < lengths.size(); ++i) {
    cs[i]->wait();
    EXPECT_EQ(cs[i]->tokens, ref.greedy(prompt(lengths[i], int(i)), 12 + i))
        << "request " << i;
    EXPECT_EQ(cs[i]->reason, "length");
  }
}

TEST(Engine, SeededSamplingIndependentOfBatch) {
  EngineOptions opt;
  opt.threads = 2;
  Engine engine(runDir().string(), opt);
  SamplingParams p;
  p.temperature = 0.9f;
  p.topP = 0.95f;
  p.topK = 20;
  p.seed = 1234;
  p.hasSeed = true;
  p.maxTokens = 20;
  p.logprobs = 3;
  p.presencePenalty = 0.3f;
  p.frequencyPenalty = 0.2f;
  std::vector<int32_t> x = prompt(5, 99);
  std::vector<int32_t> alone = generate(engine, x, p);
  ASSERT_EQ(alone.size(), 20u);
  // Again, among unseeded requests of other lengths.
  std::vector<std::unique_ptr<Collector>> others;
  SamplingParams q = p;
  q.hasSeed = false;
  for (int i = 0; i < 4; ++i) {
    others.push_back(std::make_unique<Collector>());
    engine.submit(prompt(3 + 4 * i, i), q, others.back()->callback());
  }
  Collector c;
  engine.submit(x, p, c.callback());
  c.wait();
  EXPECT_EQ(c.tokens, alone);
  for (auto &o : others)
    o->wait();
  // Another seed differs (with overwhelming probability).
  p.seed = 4321;
  EXPECT_NE(generate(engine, x, p), alone);
  // Logprobs: the top 3, sorted, and the chosen token's.
  for (const TokenEvent &ev : c.events) {
    if (ev.finished)
      continue;
    ASSERT_EQ(ev.topLogprobs.size(), 3u);
    EXPECT_LE(ev.logprob, 0.0f);
    EXPECT_GE(ev.topLogprobs[0].second, ev.topLogprobs[1].second);
    EXPECT_GE(ev.topLogprobs[1].second, ev.topLogprobs[2].second);
    EXPECT_GE(ev.topLogprobs[0].second, ev.logprob);
  }
  // Temperature 0 ignores the seed: greedy.
  Reference ref(runDir());
  EXPECT_EQ(generate(engine, x, greedy(6)), ref.greedy(x, 6));
}

TEST(Engine, StopTokens) {
  Reference ref(runDir());
  EngineOptions opt;
  opt.threads = 2;
  Engine engine(runDir().string(), opt);
  std::vector<int32_t> p = prompt(6, 3);
  std::vector<int32_t> want = ref.greedy(p, 10);
  SamplingParams params = greedy(10);
  params.stopTokens = {want[3]};
  size_t first = std::find(want.begin(), want.end(), want[3]) - want.begin();
  std::string reason;
  std::vector<int32_t> got = generate(engine, p, params, &reason);
  EXPECT_EQ(reason, "stop");
  EXPECT_EQ(got, std::vector<int32_t>(want.begin(), want.begin() + first));
}

TEST(Engine, CancelFreesBlocks) {
  EngineOptions opt;
  opt.threads = 2;
  Engine engine(runDir().string(), opt);
  Collector c;
  Engine *e = &engine;
  uint64_t id = 0;
  std::mutex idMu;
  // Cancel from inside the callback after three tokens (a client gone).
  auto inner = c.callback();
  {
    std::lock_guard<std::mutex> lock(idMu);
    id = engine.submit(prompt(20, 1), greedy(19), [&](const TokenEvent &ev) {
      inner(ev);
      std::lock_guard<std::mutex> lock(idMu);
      if (!ev.finished && c.tokens.size() == 3)
        e->cancel(id);
    });
  }
  c.wait();
  EXPECT_EQ(c.reason, "cancelled");
  EXPECT_GE(c.tokens.size(), 3u);
  EXPECT_LT(c.tokens.size(), 19u);
  waitIdle(engine);
  EXPECT_EQ(engine.stats().kvBlocksUsed, 0);
  engine.cancel(id);     // finished: ignored
  engine.cancel(999999); // unknown: ignored
  // Cancelling a queued request (the batch holds one sequence).
  EngineOptions one = opt;
  one.maxBatch = 1;
  Engine single(runDir().string(), one);
  Collector a, b;
  single.submit(prompt(3, 1), greedy(30), a.callback());
  uint64_t idB = single.submit(prompt(3, 2), greedy(30), b.callback());
  single.cancel(idB);
  b.wait();
  a.wait();
  EXPECT_EQ(b.reason, "cancelled");
  EXPECT_TRUE(b.tokens.empty());
  EXPECT_EQ(a.reason, "length");
  // The destructor cancels what is left.
  Collector d;
  {
    Engine shortLived(runDir().string(), opt);
    shortLived.submit(prompt(3, 4), greedy(30), d.callback());
  }
  EXPECT_TRUE(d.finished);
}

TEST(Engine, KvPoolExhaustionWaitsOrPreempts) {
  Reference ref(runDir());
  EngineOptions opt;
  opt.threads = 2;
  opt.maxBatch = 8;
  // 3 blocks of 16 positions (2 layers x k,v x 16 x 16 floats per block).
  opt.kvCacheBytes = 3 * 2 * 2 * 16 * 16 * 4;
  Engine engine(runDir().string(), opt);
  EXPECT_EQ(engine.stats().kvBlocksTotal, 3);
  // Each starts in one block and grows into a second: not all fit at once.
  std::vector<std::unique_ptr<Collector>> cs;
  for (int i = 0; i < 5; ++i) {
    cs.push_back(std::make_unique<Collector>());
    engine.submit(prompt(10 + i, i), greedy(20), cs.back()->callback());
  }
  for (int i = 0; i < 5; ++i) {
    cs[i]->wait();
    EXPECT_EQ(cs[i]->reason, "length");
    EXPECT_EQ(cs[i]->tokens, ref.greedy(prompt(10 + i, i), 20))
        << "request " << i;
  }
  waitIdle(engine);
  EngineStats s = engine.stats();
  EXPECT_EQ(s.kvBlocksUsed, 0);
  EXPECT_GT(s.preemptions, 0);
  // A request that could never fit the pool is rejected up front: 30 + 10
  // tokens need 39 positions, 3 blocks.
  opt.kvCacheBytes = 2 * 2 * 2 * 16 * 16 * 4;
  Engine small(runDir().string(), opt);
  EXPECT_EQ(small.stats().kvBlocksTotal, 2);
  try {
    small.submit(prompt(30, 1), greedy(10), nullptr);
    ADD_FAILURE() << "accepted";
  } catch (const EngineError &e) {
    EXPECT_NE(std::string(e.what()).find("needs 3 KV blocks but the pool has "
                                         "2"),
              std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(small.submit(prompt(22, 1), greedy(10), nullptr));
}

TEST(Engine, SubmitRejects) {
  EngineOptions opt;
  opt.threads = 1;
  Engine engine(runDir().string(), opt);
  auto message = [&](std::vector<int32_t> p, SamplingParams params) {
    try {
      engine.submit(std::move(p), params, nullptr);
    } catch (const EngineError &e) {
      return std::string(e.what());
    }
    return std::string("<accepted>");
  };
  EXPECT_NE(message({}, greedy(1)).find("empty"), std::string::npos);
  EXPECT_NE(message(prompt(30, 0), greedy(11))
                .find("exceeds the context "
                      "length 40"),
            std::string::npos);
  EXPECT_EQ(message(prompt(30, 0), greedy(10)), "<accepted>");
  EXPECT_NE(message({1, 53}, greedy(1)).find("outside the vocabulary"),
            std::string::npos);
  EXPECT_NE(message({1}, greedy(0)).find("maxTokens"), std::string::npos);
  SamplingParams bad = greedy(1);
  bad.topP = 0.0f;
  EXPECT_NE(message({1}, bad).find("topP"), std::string::npos);
  bad = greedy(1);
  bad.temperature = -1.0f;
  EXPECT_NE(message({1}, bad).find("temperature"), std::string::npos);
  EngineOptions none = opt;
  none.maxQueue = 0;
  Engine full(runDir().string(), none);
  EXPECT_THROW(full.submit({1}, greedy(1), nullptr), EngineError);
}

TEST(Engine, LoadErrors) {
  EngineOptions opt;
  EXPECT_THROW(Engine("/nonexistent/run", opt), EngineError);
  opt.kvCacheBytes = 100; // smaller than one block
  try {
    Engine e(runDir().string(), opt);
    ADD_FAILURE() << "accepted";
  } catch (const EngineError &e) {
    EXPECT_NE(std::string(e.what()).find("smaller than one KV block"),
              std::string::npos)
        << e.what();
  }
}

// A run directory whose artifact lacks prefill/decode is recompiled with
// gptc --generation (into the artifact cache).
TEST(Engine, RecompilesArtifactWithoutGeneration) {
  fs::path dir = makeRunDir("nogen", false);
  Artifact plain = readArtifact((dir / "artifact.gptart").string());
  if (plain.findFunction("decode"))
    GTEST_SKIP() << "gptc emitted decode without --generation";
  fs::path cache = dir.parent_path() / "cache";
  ::setenv("XDG_CACHE_HOME", cache.c_str(), 1);
  EngineOptions opt;
  opt.threads = 2;
  opt.gptc = std::string(GPT_BINARY_DIR) + "/bin/gptc";
  Engine engine(dir.string(), opt);
  Reference ref(dir);
  std::vector<int32_t> p = prompt(4, 0);
  EXPECT_EQ(generate(engine, p, greedy(8)), ref.greedy(p, 8));
  EXPECT_FALSE(fs::is_empty(cache / "gpt" / "artifacts"));
}

// Throughput on a larger model (random weights): GPT_ENGINE_BENCH=PRESET
// (gpt2-124m, or a config JSON path) runs it; skipped otherwise.
TEST(Engine, Bench) {
  const char *which = std::getenv("GPT_ENGINE_BENCH");
  if (!which || !*which)
    GTEST_SKIP() << "set GPT_ENGINE_BENCH=gpt2-124m (or a config path)";
  std::string spec = which;
  ModelConfig config =
      fs::exists(spec) ? loadModelConfig(spec) : presetModelConfig(spec);
  fs::path dir = testRoot() / "bench";
  fs::create_directories(dir);
  {
    std::ofstream out(dir / "config.json");
    out << modelConfigToJson(config);
  }
  std::string log;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(
      io::runProcess({std::string(GPT_BINARY_DIR) + "/bin/gptc", "--config",
                      (dir / "config.json").string(), "--emit=artifact",
                      "--generation", "-o", (dir / "artifact.gptart").string()},
                     log),
      0)
      << log;
  io::SafetensorsFile weights;
  weights.tensors = train::initParameters(config, 1);
  io::writeSafetensors(dir / "model.safetensors", weights);
  auto secs = [](auto a) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - a)
        .count();
  };
  std::printf("compile + init: %.1f s\n", secs(t0));
  EngineOptions opt;
  opt.kvCacheBytes = int64_t(512) << 20;
  opt.maxBatch = 16;
  Engine engine(dir.string(), opt);
  for (int batch : {1, 4, 8}) {
    std::vector<std::unique_ptr<Collector>> cs;
    SamplingParams p = greedy(32);
    int promptLen = 128;
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < batch; ++i) {
      cs.push_back(std::make_unique<Collector>());
      std::vector<int32_t> pr;
      for (int j = 0; j < promptLen; ++j)
        pr.push_back((j * 31 + i * 7) % int(config.vocab_size));
      engine.submit(pr, p, cs.back()->callback());
    }
    for (auto &c : cs)
      c->wait();
    double total = secs(t0);
    EngineStats s = engine.stats();
    std::printf("batch %d: prompt %d + 32 tokens each in %.2f s; prefill "
                "%.0f tok/s, decode %.1f tok/s (recent, all sequences)\n",
                batch, promptLen, total, s.prefillTokensPerSecond,
                s.decodeTokensPerSecond);
  }
}

// Where a decode step spends its time (same opt-in as Engine.Bench, which
// must run first to create the run directory).
TEST(Engine, BenchProfileDecode) {
  fs::path dir = testRoot() / "bench";
  if (!std::getenv("GPT_ENGINE_BENCH") || !fs::exists(dir / "artifact.gptart"))
    GTEST_SKIP() << "needs Engine.Bench first";
  CpuExecutor exec(readArtifact((dir / "artifact.gptart").string()));
  io::SafetensorsFile w = io::readSafetensors(dir / "model.safetensors");
  ModelConfig config = loadModelConfig((dir / "config.json").string());
  std::map<std::string, TensorView> in;
  for (auto &kv : w.tensors)
    in[kv.first] = {DType::F32, kv.second.shape, kv.second.data.data()};
  const int64_t NB = (config.context_length + 15) / 16, N = NB;
  std::vector<std::vector<float>> pools(
      2 * config.n_layer, std::vector<float>(N * 16 * config.d_model));
  for (int64_t l = 0; l < config.n_layer; ++l)
    for (int kv = 0; kv < 2; ++kv)
      in["kv." + std::to_string(l) + (kv ? ".v" : ".k")] = {
          DType::F32, {N, 16, config.d_model}, pools[2 * l + kv].data()};
  std::vector<int32_t> table(NB), tokens{1}, start{0};
  for (int64_t i = 0; i < NB; ++i)
    table[i] = int32_t(i);
  in["tokens"] = {DType::I32, {1, 1}, tokens.data()};
  in["start"] = {DType::I32, {1}, start.data()};
  in["block_table"] = {DType::I32, {1, NB}, table.data()};
  exec.run("decode", in);
  exec.setProfiling(true);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    start[0] = 100 + i;
    exec.run("decode", in);
  }
  double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  std::printf("decode B=1: %.1f ms/step\n", s * 100);
  for (auto &kv : exec.profile())
    std::printf("  %-20s %8.2f ms/step\n", kv.first.c_str(),
                kv.second.seconds * 100);
}

// logit_bias: +100 on a token makes greedy decoding pick it every time;
// -100 on greedy's own choices steers away from them; a bias outside
// [-100, 100] or an id outside the vocabulary is refused.
TEST(Engine, LogitBiasSteersEveryChoice) {
  EngineOptions opt;
  opt.threads = 2;
  Engine engine(runDir().string(), opt);
  std::vector<int32_t> x = prompt(6, 3);
  SamplingParams p = greedy(5);
  std::vector<int32_t> plain = generate(engine, x, p);
  p.logitBias = {{17, 100.0f}};
  EXPECT_EQ(generate(engine, x, p), std::vector<int32_t>(5, 17));
  p.logitBias.clear();
  for (int32_t t : plain)
    p.logitBias.push_back({t, -100.0f});
  for (int32_t t : generate(engine, x, p))
    EXPECT_EQ(std::count(plain.begin(), plain.end(), t), 0) << t;
  p.logitBias = {{53, 1.0f}};
  EXPECT_THROW(engine.submit(x, p, [](const TokenEvent &) {}), EngineError);
  p.logitBias = {{1, 101.0f}};
  EXPECT_THROW(engine.submit(x, p, [](const TokenEvent &) {}), EngineError);
}

// scorePrompt: the logprob of token t+1 from forward's row t equals the
// log-softmax the reference forward computes, and greedy's own choices
// score as the top-1 entry.
TEST(Engine, ScorePromptMatchesTheForwardPass) {
  Reference ref(runDir());
  EngineOptions opt;
  opt.threads = 2;
  Engine engine(runDir().string(), opt);
  std::vector<int32_t> x = prompt(7, 5);
  std::vector<int32_t> g = ref.greedy(x, 4);
  std::vector<int32_t> all = x;
  all.insert(all.end(), g.begin(), g.end());
  std::vector<PromptTokenScore> s = engine.scorePrompt(all, 3);
  ASSERT_EQ(s.size(), all.size() - 1);
  for (size_t i = x.size() - 1; i + 1 < all.size(); ++i) {
    ASSERT_EQ(s[i].top.size(), 3u);
    EXPECT_EQ(s[i].top[0].first, all[i + 1]) << "greedy choice is top-1";
    EXPECT_FLOAT_EQ(s[i].top[0].second, s[i].logprob);
  }
  for (const PromptTokenScore &t : s) {
    EXPECT_LE(t.logprob, 0.0f);
    EXPECT_GE(t.top[0].second, t.top[1].second);
  }
  EXPECT_THROW(engine.scorePrompt({}, 1), EngineError);
  EXPECT_THROW(engine.scorePrompt({53}, 1), EngineError);
  EXPECT_THROW(engine.scorePrompt(x, 21), EngineError);
}
