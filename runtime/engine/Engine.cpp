//===- Engine.cpp - Continuous batching over a paged KV cache -------------===//
//
// One engine thread owns the executor, the KV pool and the running batch.
// Each iteration it (1) drops cancelled requests, (2) admits queued ones
// while the batch has room and the pool has blocks for their tokens, (3)
// prefills pending prompts (all tokens but the last, at most prefillChunk
// tokens per iteration, so long prompts do not stall the batch), and (4)
// runs one decode step over every sequence whose cache holds all its tokens
// but the last: that token is fed at position `cached`, and the logits give
// the next one. A sequence's blocks grow one at a time; when the pool runs
// out mid-decode the most recently admitted sequence is preempted (blocks
// freed, requeued at the front, recomputed later from its tokens; its
// sampler state is kept so the output does not change).
//
//===----------------------------------------------------------------------===//
#include "runtime/engine/Engine.h"
#include "runtime/engine/Sampler.h"

#include "runtime/artifact/Artifact.h"
#include "runtime/backend/Backend.h"
#include "runtime/io/ArtifactCache.h"
#include "runtime/io/FileIO.h"
#include "runtime/io/Safetensors.h"
#include "schema/ModelConfig.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <new>
#include <random>
#include <set>
#include <thread>
#include <unistd.h>
#include <unordered_map>

namespace gpt {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

struct Request {
  uint64_t id = 0;
  std::vector<int32_t> tokens; ///< prompt, then the generated tokens
  SamplingParams params;
  std::function<void(const TokenEvent &)> onToken;
  uint64_t rng = 0;
  std::vector<int32_t> blocks;             ///< KV blocks, in order
  int64_t cached = 0;                      ///< positions in the pool
  int generated = 0;                       ///< tokens reported
  std::unordered_map<int32_t, int> counts; ///< generated token counts
  uint64_t admitted = 0;                   ///< admission order
  bool cancelled = false;                  ///< cancel() or a throwing callback
  bool done = false;                       ///< final event sent
};

/// Compiles `config` with `gptc --generation` into the artifact cache.
fs::path compileGenerationArtifact(const ModelConfig &config,
                                   const std::string &gptcOption,
                                   const std::string &target) {
  fs::path gptc = gptcOption.empty() ? io::findGptc(io::selfExecutable(nullptr))
                                     : fs::path(gptcOption);
  if (gptc.empty())
    throw EngineError("the run directory's artifact has no prefill/decode "
                      "and the compiler gptc was not found ($GPT_GPTC, next "
                      "to this binary, PATH) to recompile it");
  std::string version;
  if (io::runProcess({gptc.string(), "--version"}, version) != 0)
    throw EngineError(gptc.string() + " --version failed: " + version);
  const std::string configJson = modelConfigToJson(config);
  const std::string key = io::fnv1a64Hex(configJson + "\n--target=" + target +
                                         " --generation\n" + version);
  const fs::path dir = io::artifactCacheDir();
  const fs::path cached = dir / (key + ".gen.gptart");
  if (fs::exists(cached))
    return cached;
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::string pid = std::to_string(::getpid());
  const fs::path cfg = dir / ("." + key + ".config.json." + pid);
  const fs::path tmp = dir / ("." + key + ".gen.gptart." + pid);
  io::writeFileAtomic(cfg, configJson);
  std::string out;
  int rc = io::runProcess({gptc.string(), "--config", cfg.string(),
                           "--emit=artifact", "--target=" + target,
                           "--generation", "-o", tmp.string()},
                          out);
  fs::remove(cfg, ec);
  if (rc != 0 || !fs::exists(tmp)) {
    fs::remove(tmp, ec);
    throw EngineError(gptc.string() + " --generation failed (exit " +
                      std::to_string(rc) + "):\n" + out);
  }
  fs::rename(tmp, cached, ec);
  if (ec)
    throw EngineError("cannot store " + cached.string() + ": " + ec.message());
  return cached;
}

} // namespace

struct Engine::Impl {
  EngineOptions opt;
  ModelConfig config;
  std::unique_ptr<Executor> exec;
  /// Copied from exec->profile() after each call (under mu), so that other
  /// threads can read it; resetProfile asks the engine thread to clear it.
  std::map<std::string, std::pair<double, int64_t>> profileSnapshot;
  bool resetProfile = false;
  /// Call with mu held, after an executor call.
  void snapshotProfile() {
    if (!opt.profile)
      return;
    profileSnapshot.clear();
    for (const auto &kv : exec->profile())
      profileSnapshot[kv.first] = {kv.second.seconds, kv.second.calls};
  }
  /// Call with mu held, before an executor call.
  void applyProfileReset() {
    if (resetProfile) {
      exec->resetProfile();
      profileSnapshot.clear();
      resetProfile = false;
    }
  }
  BackendOptions backendOptions() const {
    return {opt.backend, opt.threads, opt.device};
  }
  io::SafetensorsFile weights;
  std::map<std::string, TensorView> fixed; ///< params and KV pools by name
  int64_t L = 0, D = 0, V = 0, C = 0, BS = 0, NB = 0, N = 0;
  /// kv.<l>.k, kv.<l>.v; uninitialized (a position is written before it is
  /// read), so untouched pages cost nothing.
  std::vector<std::unique_ptr<float[]>> pools;
  std::vector<int32_t> freeBlocks; ///< engine thread only

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<Request>> queue;
  std::set<uint64_t> cancels;
  /// Prompt-scoring jobs (scorePrompt), run by the engine thread.
  struct ScoreJob {
    const std::vector<int32_t> *prompt = nullptr;
    int topN = 0;
    std::vector<PromptTokenScore> out;
    std::string error;
    bool done = false;
  };
  std::deque<ScoreJob *> scoreJobs;
  std::condition_variable scored;
  bool stop = false;
  uint64_t nextId = 1;
  uint64_t seedCounter = 0;
  EngineStats st; ///< under mu

  std::vector<std::unique_ptr<Request>> running; ///< engine thread only
  uint64_t admitCounter = 0;
  std::vector<float> scratch;
  std::vector<int32_t> ids; ///< scratch of scoreToken (engine thread)
  std::thread thread;

  void load(const std::string &runDir);
  // The steps of load().
  Artifact generationArtifact(const fs::path &dir, fs::path &artPath);
  static std::vector<int64_t> inputShape(const Function &f,
                                         const std::string &name,
                                         const std::string &where);
  const Function &checkGenerationFunctions(const Artifact &art,
                                           const std::string &where);
  void loadWeights(const fs::path &wpath, const Function &dec);
  void allocateKvPool(const Function &dec, const std::string &where);
  void loop();
  bool admit();
  void prefill();
  void decode();
  bool ensureBlocks(Request &r, int64_t positions);
  void release(Request &r);
  void preempt(Request *victim);
  void finish(Request &r, const std::string &reason,
              const std::string &error = "");
  void emit(Request &r, const TokenEvent &ev);
  void sampleAndEmit(Request &r, const float *logits);
  int32_t sample(Request &r, const float *logits);
  void removeFinished();
  void publish();
  void score(ScoreJob &job);
};

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

void Engine::Impl::load(const std::string &runDir) {
  fs::path dir(runDir);
  if (!fs::is_directory(dir))
    throw EngineError(runDir + ": not a run directory");
  try {
    config = loadModelConfig((dir / "config.json").string());
  } catch (const ConfigError &e) {
    throw EngineError(e.what());
  }
  L = config.n_layer;
  D = config.d_model;
  V = config.vocab_size;
  C = config.context_length;
  fs::path artPath;
  Artifact art = generationArtifact(dir, artPath);
  const std::string where = artPath.string();
  const Function &dec = checkGenerationFunctions(art, where);
  loadWeights(dir / "model.safetensors", dec);
  allocateKvPool(dec, where);
  try {
    exec = makeExecutor(art, backendOptions());
    // Weights and the KV pool never leave the device (a no-op on the CPU):
    // each step then moves only tokens, positions, block tables and logits.
    std::vector<std::string> resident;
    for (const auto &kv : fixed)
      resident.push_back(kv.first);
    exec->setResident(resident);
    exec->setProfiling(opt.profile);
  } catch (const std::exception &e) {
    throw EngineError(where + ": " + e.what());
  }
  st.kvBlocksTotal = N;
  st.kvBlockSize = BS;
}

/// The run's artifact when it has prefill/decode for this backend's target,
/// else one compiled for generation (cached); sets artPath to its file.
Artifact Engine::Impl::generationArtifact(const fs::path &dir,
                                          fs::path &artPath) {
  artPath = dir / "artifact.gptart";
  Artifact art;
  bool have = false;
  try {
    if (fs::exists(artPath)) {
      art = readArtifact(artPath.string());
      have = true;
    }
  } catch (const ArtifactError &e) {
    throw EngineError(e.what());
  }
  if (have && modelConfigToJson(art.config) != modelConfigToJson(config))
    throw EngineError(artPath.string() +
                      ": compiled for another model config than " +
                      (dir / "config.json").string());
  const std::string target = artifactTarget(backendOptions());
  if (!have || art.target != target || !art.findFunction("prefill") ||
      !art.findFunction("decode")) {
    fs::path compiled = compileGenerationArtifact(config, opt.gptc, target);
    try {
      art = readArtifact(compiled.string());
    } catch (const ArtifactError &e) {
      throw EngineError(e.what());
    }
    if (!art.findFunction("prefill") || !art.findFunction("decode"))
      throw EngineError(compiled.string() +
                        ": gptc --generation emitted no prefill/decode");
    artPath = compiled;
  }
  return art;
}

/// The input `name` of function f's shape; EngineError when it has none.
std::vector<int64_t> Engine::Impl::inputShape(const Function &f,
                                              const std::string &name,
                                              const std::string &where) {
  int64_t i = f.findInput(name);
  if (i < 0)
    throw EngineError(where + ": function '" + f.name + "' has no input '" +
                      name + "'");
  return f.values[f.inputs[i].value].shape;
}

/// prefill and decode take tokens, positions and block tables and return
/// logits first; the KV cache and block table fit the context. Sets BS and
/// NB; returns decode.
const Function &
Engine::Impl::checkGenerationFunctions(const Artifact &art,
                                       const std::string &where) {
  const Function &dec = *art.findFunction("decode");
  for (const char *fn : {"prefill", "decode"}) {
    const Function &f = *art.findFunction(fn);
    for (const char *in : {"tokens", "start", "block_table"})
      inputShape(f, in, where);
    if (f.outputs.empty() || f.outputs[0].name != "logits")
      throw EngineError(where + ": function '" + f.name +
                        "' does not return logits first");
  }
  std::vector<int64_t> kshape = inputShape(dec, "kv.0.k", where);
  std::vector<int64_t> table = inputShape(dec, "block_table", where);
  if (kshape.size() != 3 || kshape[0] != kDimPool || kshape[2] != D ||
      table.size() != 2 || table[1] < 1)
    throw EngineError(where + ": unexpected KV cache or block table shape");
  BS = kshape[1];
  NB = table[1];
  if (BS < 1 || NB * BS < C)
    throw EngineError(where + ": block table of " + std::to_string(NB) + " x " +
                      std::to_string(BS) +
                      " positions is shorter than the context");

  return dec;
}

/// model.safetensors: every parameter decode takes, F32 with its shape.
void Engine::Impl::loadWeights(const fs::path &wpath, const Function &dec) {
  try {
    weights = io::readSafetensors(wpath);
  } catch (const std::exception &e) {
    throw EngineError(e.what());
  }
  for (const FunctionInput &in : dec.inputs) {
    if (in.role != "param")
      continue;
    const std::vector<int64_t> &shape = dec.values[in.value].shape;
    auto it = weights.tensors.find(in.name);
    if (it == weights.tensors.end())
      throw EngineError(wpath.string() + ": missing tensor '" + in.name + "'");
    io::Tensor &t = it->second;
    if (t.dtype != io::DType::F32 || t.shape != shape)
      throw EngineError(wpath.string() + ": tensor '" + in.name +
                        "' is not F32 with the artifact's shape");
    fixed[in.name] = {DType::F32, shape, t.data.data()};
  }
}

/// As many KV blocks as kvCacheBytes holds, per layer for keys and values.
void Engine::Impl::allocateKvPool(const Function &dec,
                                  const std::string &where) {
  int64_t perBlock = 2 * L * BS * D * int64_t(sizeof(float));
  N = opt.kvCacheBytes / perBlock;
  if (N < 1)
    throw EngineError("kvCacheBytes = " + std::to_string(opt.kvCacheBytes) +
                      " is smaller than one KV block (" +
                      std::to_string(perBlock) + " bytes)");
  N = std::min<int64_t>(N, std::numeric_limits<int32_t>::max());
  pools.resize(2 * L);
  for (int64_t l = 0; l < L; ++l)
    for (int kv = 0; kv < 2; ++kv) {
      std::string name = "kv." + std::to_string(l) + (kv == 0 ? ".k" : ".v");
      std::unique_ptr<float[]> &pool = pools[2 * l + kv];
      pool.reset(new (std::nothrow) float[size_t(N * BS * D)]);
      if (!pool)
        throw EngineError("cannot allocate the KV pool (" +
                          std::to_string(opt.kvCacheBytes) + " bytes)");
      fixed[name] = {DType::F32, {N, BS, D}, pool.get()};
      inputShape(dec, name, where);
    }
  for (int64_t b = N - 1; b >= 0; --b)
    freeBlocks.push_back(static_cast<int32_t>(b));
}

//===----------------------------------------------------------------------===//
// Blocks, events
//===----------------------------------------------------------------------===//

bool Engine::Impl::ensureBlocks(Request &r, int64_t positions) {
  int64_t need = (positions + BS - 1) / BS - int64_t(r.blocks.size());
  if (need <= 0)
    return true;
  if (need > int64_t(freeBlocks.size()))
    return false;
  for (int64_t i = 0; i < need; ++i) {
    r.blocks.push_back(freeBlocks.back());
    freeBlocks.pop_back();
  }
  return true;
}

void Engine::Impl::release(Request &r) {
  for (auto it = r.blocks.rbegin(); it != r.blocks.rend(); ++it)
    freeBlocks.push_back(*it);
  r.blocks.clear();
  r.cached = 0;
}

void Engine::Impl::emit(Request &r, const TokenEvent &ev) {
  if (!r.onToken)
    return;
  try {
    r.onToken(ev);
  } catch (...) {
    // A throwing callback must not take the engine down: drop the request.
    if (!ev.finished)
      r.cancelled = true;
  }
}

void Engine::Impl::finish(Request &r, const std::string &reason,
                          const std::string &error) {
  release(r);
  TokenEvent ev;
  ev.finished = true;
  ev.finishReason = reason;
  ev.error = error;
  r.done = true; // removed from the batch by removeFinished()
  emit(r, ev);
  r.onToken = nullptr;
}

void Engine::Impl::removeFinished() {
  running.erase(
      std::remove_if(running.begin(), running.end(),
                     [](const std::unique_ptr<Request> &r) { return r->done; }),
      running.end());
}

/// Evicts a running sequence: its blocks are freed and it goes back to the
/// front of the queue, to be recomputed from its tokens when readmitted.
void Engine::Impl::preempt(Request *victim) {
  auto it = std::find_if(running.begin(), running.end(),
                         [&](const auto &r) { return r.get() == victim; });
  std::unique_ptr<Request> r = std::move(*it);
  running.erase(it);
  release(*r);
  std::lock_guard<std::mutex> lock(mu);
  ++st.preemptions;
  queue.push_front(std::move(r));
}

//===----------------------------------------------------------------------===//
// Sampling
//===----------------------------------------------------------------------===//

namespace {

/// Log-softmax of `logits` at `token` and the `topN` most likely tokens
/// (ties by id): the logprobs of generated tokens and of scored prompts
/// alike. `ids` is scratch (reused across calls).
PromptTokenScore scoreToken(const float *logits, int64_t V, int32_t token,
                            int topN, std::vector<int32_t> &ids) {
  float m = *std::max_element(logits, logits + V);
  double s = 0;
  for (int64_t i = 0; i < V; ++i)
    s += std::exp(double(logits[i]) - m);
  float lse = m + float(std::log(s));
  PromptTokenScore out;
  out.logprob = logits[token] - lse;
  ids.resize(static_cast<size_t>(V));
  for (int64_t i = 0; i < V; ++i)
    ids[size_t(i)] = static_cast<int32_t>(i);
  size_t n = std::min<size_t>(size_t(topN), ids.size());
  std::partial_sort(
      ids.begin(), ids.begin() + n, ids.end(), [&](int32_t a, int32_t b) {
        return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
      });
  for (size_t i = 0; i < n; ++i)
    out.top.push_back({ids[i], logits[ids[i]] - lse});
  return out;
}

} // namespace

int32_t Engine::Impl::sample(Request &r, const float *logits) {
  return sampleToken(r.params, r.counts, logits, V, r.rng, scratch);
}

void Engine::Impl::sampleAndEmit(Request &r, const float *logits) {
  int32_t token = sample(r, logits);
  const SamplingParams &p = r.params;
  if (std::find(p.stopTokens.begin(), p.stopTokens.end(), token) !=
      p.stopTokens.end()) {
    finish(r, "stop");
    return;
  }
  TokenEvent ev;
  ev.token = token;
  if (p.logprobs >= 0) {
    PromptTokenScore sc = scoreToken(logits, V, token, p.logprobs, ids);
    ev.logprob = sc.logprob;
    ev.topLogprobs = std::move(sc.top);
  }
  r.tokens.push_back(token);
  ++r.counts[token];
  ++r.generated;
  {
    std::lock_guard<std::mutex> lock(mu);
    ++st.generatedTokens;
  }
  emit(r, ev);
  if (r.cancelled)
    finish(r, "cancelled");
  else if (r.generated >= p.maxTokens)
    finish(r, "length");
}

//===----------------------------------------------------------------------===//
// The loop
//===----------------------------------------------------------------------===//

/// Under mu: moves queued requests into the batch while there is room.
bool Engine::Impl::admit() {
  bool any = false;
  while (int(running.size()) < opt.maxBatch && !queue.empty()) {
    Request &r = *queue.front();
    if (!ensureBlocks(r, int64_t(r.tokens.size())))
      break; // FIFO: wait for blocks
    r.admitted = ++admitCounter;
    running.push_back(std::move(queue.front()));
    queue.pop_front();
    any = true;
  }
  return any;
}

void Engine::Impl::prefill() {
  int64_t budget = std::max(1, opt.prefillChunk);
  for (auto &rp : running) {
    Request &r = *rp;
    int64_t todo = int64_t(r.tokens.size()) - 1 - r.cached;
    if (r.done || r.cancelled || todo <= 0)
      continue;
    if (budget <= 0)
      break;
    int64_t n = std::min(todo, budget);
    budget -= n;
    std::vector<int32_t> tokens(r.tokens.begin() + r.cached,
                                r.tokens.begin() + r.cached + n);
    std::vector<int32_t> start{int32_t(r.cached)};
    std::vector<int32_t> table(size_t(NB), 0);
    std::copy(r.blocks.begin(), r.blocks.end(), table.begin());
    std::map<std::string, TensorView> in = fixed;
    in["tokens"] = {DType::I32, {1, n}, tokens.data()};
    in["start"] = {DType::I32, {1}, start.data()};
    in["block_table"] = {DType::I32, {1, NB}, table.data()};
    {
      std::lock_guard<std::mutex> lock(mu);
      applyProfileReset();
    }
    auto t0 = Clock::now();
    try {
      exec->run("prefill", in);
    } catch (const std::exception &e) {
      finish(r, "error", e.what());
      continue;
    }
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    r.cached += n;
    std::lock_guard<std::mutex> lock(mu);
    snapshotProfile();
    double rate = dt > 0 ? double(n) / dt : 0.0;
    st.prefillTokensPerSecond =
        st.prefillTokensPerSecond == 0
            ? rate
            : 0.8 * st.prefillTokensPerSecond + 0.2 * rate;
  }
  removeFinished();
}

void Engine::Impl::decode() {
  // Sequences whose cache holds all tokens but the last; each needs a slot
  // for position `cached`, preempting the newest sequences when the pool is
  // out of blocks.
  std::vector<Request *> batch;
  for (size_t i = 0; i < running.size();) {
    Request &r = *running[i];
    if (r.done || r.cached != int64_t(r.tokens.size()) - 1) {
      ++i;
      continue;
    }
    if (ensureBlocks(r, r.cached + 1)) {
      batch.push_back(&r);
      ++i;
      continue;
    }
    Request *victim = nullptr;
    for (auto &q : running)
      if (!victim || q->admitted > victim->admitted)
        victim = q.get();
    bool self = victim == &r;
    batch.erase(std::remove(batch.begin(), batch.end(), victim), batch.end());
    preempt(victim);
    if (self)
      continue; // running[i] is now the next sequence
    // Retry the same sequence; indexes before i may have shifted by one.
    i = 0;
    batch.clear();
  }
  if (batch.empty())
    return;
  const int64_t B = int64_t(batch.size());
  std::vector<int32_t> tokens(B), start(B), table(size_t(B * NB), 0);
  for (int64_t b = 0; b < B; ++b) {
    Request &r = *batch[b];
    tokens[b] = r.tokens.back();
    start[b] = int32_t(r.cached);
    std::copy(r.blocks.begin(), r.blocks.end(), table.begin() + b * NB);
  }
  std::map<std::string, TensorView> in = fixed;
  in["tokens"] = {DType::I32, {B, 1}, tokens.data()};
  in["start"] = {DType::I32, {B}, start.data()};
  in["block_table"] = {DType::I32, {B, NB}, table.data()};
  {
    std::lock_guard<std::mutex> lock(mu);
    applyProfileReset();
  }
  auto t0 = Clock::now();
  std::map<std::string, HostTensor> out;
  try {
    out = exec->run("decode", in);
  } catch (const std::exception &e) {
    for (Request *r : batch)
      finish(*r, "error", e.what());
    removeFinished();
    return;
  }
  double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  {
    std::lock_guard<std::mutex> lock(mu);
    snapshotProfile();
    double rate = dt > 0 ? double(B) / dt : 0.0;
    st.decodeTokensPerSecond =
        st.decodeTokensPerSecond == 0
            ? rate
            : 0.8 * st.decodeTokensPerSecond + 0.2 * rate;
  }
  const std::vector<float> &logits = out["logits"].f32;
  for (int64_t b = 0; b < B; ++b) {
    Request &r = *batch[b];
    r.cached += 1;
    if (r.cancelled)
      finish(r, "cancelled");
    else
      sampleAndEmit(r, logits.data() + b * V);
  }
  removeFinished();
}

void Engine::Impl::publish() {
  std::lock_guard<std::mutex> lock(mu);
  st.running = int(running.size());
  st.queued = int(queue.size());
  st.kvBlocksUsed = N - int64_t(freeBlocks.size());
}

void Engine::Impl::loop() {
  for (;;) {
    std::vector<std::unique_ptr<Request>> dropped;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] {
        return stop || !queue.empty() || !running.empty() || !cancels.empty() ||
               !scoreJobs.empty();
      });
      if (stop)
        break;
      while (!scoreJobs.empty()) {
        ScoreJob *job = scoreJobs.front();
        scoreJobs.pop_front();
        lock.unlock();
        score(*job);
        lock.lock();
        job->done = true;
        scored.notify_all();
      }
      for (auto it = queue.begin(); it != queue.end();)
        if (cancels.count((*it)->id)) {
          dropped.push_back(std::move(*it));
          it = queue.erase(it);
        } else {
          ++it;
        }
      for (auto &r : running)
        if (cancels.count(r->id))
          r->cancelled = true;
      cancels.clear();
    }
    for (auto &r : dropped)
      finish(*r, "cancelled");
    for (auto &r : running)
      if (r->cancelled && !r->done)
        finish(*r, "cancelled");
    removeFinished();
    {
      std::lock_guard<std::mutex> lock(mu);
      admit();
    }
    publish();
    prefill();
    decode();
    publish();
  }
  // Shutting down: every request still known ends as cancelled.
  {
    std::lock_guard<std::mutex> lock(mu);
    for (ScoreJob *job : scoreJobs) {
      job->error = "the engine is shutting down";
      job->done = true;
    }
    scoreJobs.clear();
    scored.notify_all();
  }
  std::deque<std::unique_ptr<Request>> rest;
  {
    std::lock_guard<std::mutex> lock(mu);
    rest.swap(queue);
  }
  for (auto &r : rest)
    finish(*r, "cancelled");
  for (auto &r : running)
    if (!r->done)
      finish(*r, "cancelled");
  running.clear();
  publish();
}

/// One forward call over the prompt; row t of the logits scores token t+1.
void Engine::Impl::score(ScoreJob &job) {
  try {
    std::vector<int32_t> p = *job.prompt; // the executor takes mutable views
    const Function *fwd = exec->artifact().findFunction("forward");
    if (!fwd)
      throw EngineError("this model's artifact has no forward function, so "
                        "prompts cannot be scored");
    std::map<std::string, TensorView> in;
    for (const FunctionInput &fi : fwd->inputs) {
      if (fi.name == "tokens") {
        in["tokens"] = {DType::I32, {1, int64_t(p.size())}, p.data()};
        continue;
      }
      auto it = fixed.find(fi.name);
      if (it == fixed.end())
        throw EngineError("forward needs input '" + fi.name + "'");
      in[fi.name] = it->second;
    }
    auto out = exec->run("forward", in);
    const std::vector<float> &logits = out.at("logits").f32;
    for (size_t t = 0; t + 1 < p.size(); ++t) {
      job.out.push_back(scoreToken(logits.data() + t * size_t(V), V, p[t + 1],
                                   job.topN, ids));
    }
  } catch (const std::exception &e) {
    job.error = e.what();
  }
}

//===----------------------------------------------------------------------===//
// Public API
//===----------------------------------------------------------------------===//

Engine::Engine(const std::string &runDir, const EngineOptions &options)
    : impl_(std::make_unique<Impl>()) {
  if (options.maxBatch < 1)
    throw EngineError("maxBatch must be >= 1");
  if (options.threads < 0)
    throw EngineError("threads must be >= 0");
  impl_->opt = options;
  impl_->load(runDir);
  impl_->seedCounter = std::random_device{}();
  impl_->thread = std::thread([this] { impl_->loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

int64_t Engine::contextLength() const { return impl_->C; }

std::string Engine::deviceDescription() const {
  return impl_->exec->deviceDescription(); // fixed once loaded
}
uint64_t Engine::peakDeviceMemoryBytes() const {
  return impl_->exec->peakDeviceMemoryBytes();
}
int64_t Engine::vocabSize() const { return impl_->V; }

uint64_t Engine::submit(std::vector<int32_t> prompt,
                        const SamplingParams &params,
                        std::function<void(const TokenEvent &)> onToken) {
  Impl &m = *impl_;
  if (prompt.empty())
    throw EngineError("the prompt is empty");
  for (size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= m.V)
      throw EngineError("prompt token " + std::to_string(prompt[i]) +
                        " at position " + std::to_string(i) +
                        " is outside the vocabulary [0, " +
                        std::to_string(m.V) + ")");
  if (params.maxTokens < 1)
    throw EngineError("maxTokens must be >= 1, got " +
                      std::to_string(params.maxTokens));
  int64_t total = int64_t(prompt.size()) + params.maxTokens;
  if (total > m.C)
    throw EngineError("prompt (" + std::to_string(prompt.size()) +
                      " tokens) + maxTokens (" +
                      std::to_string(params.maxTokens) +
                      ") exceeds the context length " + std::to_string(m.C));
  // The last generated token is never fed back, so total - 1 positions.
  int64_t blocks = (total - 1 + m.BS - 1) / m.BS;
  if (blocks > m.N)
    throw EngineError("the request needs " + std::to_string(blocks) +
                      " KV blocks but the pool has " + std::to_string(m.N) +
                      " (raise kvCacheBytes)");
  if (!(params.temperature >= 0.0f) || !std::isfinite(params.temperature))
    throw EngineError("temperature must be >= 0");
  if (!(params.topP > 0.0f && params.topP <= 1.0f))
    throw EngineError("topP must be in (0, 1]");
  if (params.topK < 0)
    throw EngineError("topK must be >= 0");
  if (!std::isfinite(params.presencePenalty) ||
      !std::isfinite(params.frequencyPenalty))
    throw EngineError("penalties must be finite");
  if (params.logprobs < -1 || params.logprobs > 20)
    throw EngineError("logprobs must be in [0, 20] (or -1: none)");
  for (const auto &[id, bias] : params.logitBias)
    if (id < 0 || id >= m.V || !(bias >= -100.0f && bias <= 100.0f))
      throw EngineError("logit bias " + std::to_string(bias) + " for token " +
                        std::to_string(id) +
                        ": ids must be in the vocabulary and biases in "
                        "[-100, 100]");
  auto r = std::make_unique<Request>();
  r->tokens = std::move(prompt);
  r->params = params;
  r->onToken = std::move(onToken);
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.stop)
      throw EngineError("the engine is shutting down");
    if (m.queue.size() >= m.opt.maxQueue)
      throw EngineError("the request queue is full (" +
                        std::to_string(m.opt.maxQueue) + " waiting)");
    id = m.nextId++;
    r->id = id;
    r->rng = params.hasSeed ? params.seed
                            : m.seedCounter++ * 0x9e3779b97f4a7c15ull + id;
    ++m.st.requests;
    m.st.promptTokens += int64_t(r->tokens.size());
    m.queue.push_back(std::move(r));
    m.st.queued = int(m.queue.size());
  }
  m.cv.notify_all();
  return id;
}

void Engine::cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (id == 0 || id >= impl_->nextId)
      return;
    impl_->cancels.insert(id);
  }
  impl_->cv.notify_all();
}

std::vector<PromptTokenScore>
Engine::scorePrompt(const std::vector<int32_t> &prompt, int topN) {
  Impl &m = *impl_;
  if (prompt.empty())
    throw EngineError("cannot score an empty prompt");
  if (int64_t(prompt.size()) > m.C)
    throw EngineError("the prompt has " + std::to_string(prompt.size()) +
                      " tokens, more than the context (" + std::to_string(m.C) +
                      ")");
  for (int32_t t : prompt)
    if (t < 0 || t >= m.V)
      throw EngineError("prompt token " + std::to_string(t) +
                        " is outside the vocabulary");
  if (topN < 0 || topN > 20)
    throw EngineError("topN must be in [0, 20]");
  Impl::ScoreJob job;
  job.prompt = &prompt;
  job.topN = topN;
  std::unique_lock<std::mutex> lock(m.mu);
  if (m.stop)
    throw EngineError("the engine is shutting down");
  m.scoreJobs.push_back(&job);
  m.cv.notify_all();
  m.scored.wait(lock, [&] { return job.done; });
  if (!job.error.empty())
    throw EngineError(job.error);
  return std::move(job.out);
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->st;
}

std::map<std::string, std::pair<double, int64_t>>
Engine::kernelProfile() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->profileSnapshot;
}

void Engine::resetKernelProfile() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->resetProfile = true;
  impl_->profileSnapshot.clear();
}

} // namespace gpt
