//===- VulkanKernelsBench.cpp - Google Benchmark for the Vulkan kernels -===//
//
// Each benchmark builds a small artifact by hand (target "vulkan") around
// one kernel, runs it through VulkanExecutor with profiling on and reports
// the kernel's GPU time from timestamp queries (profile()) as the manual
// iteration time. Counters (per second of that time, so they survive
// --benchmark_format=json):
//   GFLOP/s  useful floating-point operations (2 per multiply-add; causal
//            attention counts only the unmasked half, its backward 2.5x the
//            forward, as in bench/cpu)
//   GB/s     bytes the kernel must read + write once (memory-bound kernels
//            and the decode-shaped linears)
//
// Besides the kernel under test the artifact holds helper kernels whose time
// is not counted (profile() is keyed by kernel name):
//  * `embedding` expands small random tables into the large inputs on the
//    device: the executor uploads every input on every run(), and uploading
//    e.g. 1.6 GB of logits per call would make the benchmark run for minutes
//    while the kernel takes a millisecond. Rows repeat (at most 256
//    distinct ones per tensor); no kernel here depends on the values.
//  * a `fill` of a tiny output first, so that the first timed dispatch does
//    not absorb the staging uploads (the first timestamp is taken before
//    them), and on GPUs a 128 MiB `fill` before every timed call so that it
//    starts with a cold cache (the helpers just wrote its inputs).
//  * attention_grad's o and lse come from an `attention` forward.
// Small kernels are repeated (8 calls per run() on a GPU, each after a
// flush); every benchmark iteration is one call and reports the mean time of
// the calls of its run(), so the per-run overhead is amortised.
//
// On lavapipe (device type "cpu", a slow CPU driver) every shape is shrunk
// (the names carry the shapes actually run) and there is no flush.
// Unless --benchmark_min_time is given it defaults to 0.1 s here.
// GPT_BENCH_FP32_PEAK_GFLOPS, if set, is copied into the JSON context (the
// device's theoretical fp32 peak cannot be queried from Vulkan).
//
//===----------------------------------------------------------------------===//
#include "executor/Builder.h"
#include "runtime/vulkan/VulkanExecutor.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace gpt::bench {
namespace {

using test::Buf;
using test::FunctionBuilder;
using test::json;

/// Set when a benchmark fails (exception, no timestamps): main returns 1 so
/// that ctest notices.
bool gFailed = false;

/// Device facts main() found with a probe executor.
struct DeviceFacts {
  VulkanDeviceInfo info;
  bool lavapipe = false; ///< device type "cpu": shrink every shape
  int reps = 8;          ///< calls per run() for small kernels
  int64_t flushFloats = int64_t(32) << 20; ///< 128 MiB; 0 = no flush
} gDevice;

Artifact vulkanArtifact(const FunctionBuilder &b) {
  json m = test::manifestOf({b.function()});
  m["target"] = "vulkan";
  return parseArtifact(serializeArtifact(m), "bench.gptart");
}

/// splitmix64: fast and good enough for benchmark data.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() { // [-1, 1)
    return float(int64_t(next() >> 40) - (int64_t(1) << 23)) *
           (1.0f / float(1 << 23));
  }
};

/// What a benchmark needs at run time; built on its first call.
struct Fixture {
  std::unique_ptr<VulkanExecutor> exec;
  std::map<std::string, Buf> bufs;
  std::map<std::string, TensorView> views;
};

/// Builds the one-kernel artifact and its inputs.
class Spec {
public:
  FunctionBuilder b;
  std::map<std::string, Buf> bufs;

  Spec() {
    int done = b.temp({1});
    b.kernel("fill", {}, {done}, {{"value", 1.0}});
    b.output("done", done);
  }

  /// A random f32 tensor: uploaded directly if it has fewer than two dims,
  /// else expanded on the device from a table of at most 256 random rows.
  int random(const std::string &name, const std::vector<int64_t> &shape,
             float scale = 1.0f) {
    Rng rng{seed_++ * 0x1234567ull};
    if (shape.size() < 2) {
      Buf buf;
      buf.shape = shape;
      buf.f.resize(buf.size());
      for (float &x : buf.f)
        x = scale * rng.uniform();
      return input(name, std::move(buf));
    }
    const int64_t D = shape.back();
    int64_t rows = 1;
    for (size_t d = 0; d + 1 < shape.size(); ++d)
      rows *= shape[d];
    const int64_t P = std::max<int64_t>(
        1, std::min<int64_t>({rows, 256, std::max<int64_t>(8, (1 << 20) / D)}));
    Buf table;
    table.shape = {P, D};
    table.f.resize(table.size());
    for (float &x : table.f)
      x = scale * rng.uniform();
    Buf ids;
    ids.dtype = DType::I32;
    ids.shape.assign(shape.begin(), shape.end() - 1);
    ids.i.resize(ids.size());
    for (int32_t &i : ids.i)
      i = int32_t(rng.next() % uint64_t(P));
    int t = input(name + "_table", std::move(table));
    int i = input(name + "_ids", std::move(ids));
    int y = b.temp(shape);
    b.kernel("embedding", {t, i}, {y});
    return y;
  }

  int ints(const std::string &name, const std::vector<int64_t> &shape,
           std::vector<int32_t> data) {
    Buf buf;
    buf.dtype = DType::I32;
    buf.shape = shape;
    buf.i = std::move(data);
    return input(name, std::move(buf));
  }

  /// `reps` calls of the kernel under test, each after a cache flush.
  void timed(const std::string &kernel, const std::vector<int> &ins,
             const std::vector<int> &outs, const json &attrs, int reps) {
    int flush = -1;
    if (gDevice.flushFloats > 0)
      flush = b.temp({gDevice.flushFloats});
    for (int r = 0; r < reps; ++r) {
      if (flush >= 0)
        b.kernel("fill", {}, {flush}, {{"value", double(r)}});
      b.kernel(kernel, ins, outs, attrs);
    }
  }

  std::unique_ptr<Fixture> build() {
    auto f = std::make_unique<Fixture>();
    VulkanOptions options = VulkanOptions::fromEnvironment();
    f->exec = std::make_unique<VulkanExecutor>(vulkanArtifact(b), options);
    f->exec->setProfiling(true);
    f->bufs = std::move(bufs);
    for (auto &kv : f->bufs)
      f->views[kv.first] = kv.second.view();
    return f;
  }

private:
  int input(const std::string &name, Buf buf) {
    int id = b.input(name, buf.shape, buf.dtype == DType::F32 ? "f32" : "i32");
    bufs[name] = std::move(buf);
    return id;
  }
  uint64_t seed_ = 1;
};

/// A registered benchmark: how to build its artifact and what one call of
/// the kernel is worth.
struct Case {
  std::string kernel;
  std::function<void(Spec &)> make;
  double flops = 0, bytes = 0;
  int reps = 1;
  /// GPT_VK_COOPMAT / GPT_VK_MATMUL while the executor opens (they are
  /// read then): which GEMM shader the products use.
  std::string coopmat = "0", matmul;
};

void setOrUnset(const char *name, const std::string &value) {
  if (value.empty())
    ::unsetenv(name);
  else
    ::setenv(name, value.c_str(), 1);
}

/// Only the running benchmark keeps its device memory.
Case *gActive = nullptr;
std::unique_ptr<Fixture> gFixture;

benchmark::Counter rate(double perIteration) {
  return benchmark::Counter(perIteration,
                            benchmark::Counter::kIsIterationInvariantRate);
}

void runCase(benchmark::State &state, Case &c) {
  try {
    if (gActive != &c || !gFixture) {
      gFixture.reset();
      gActive = nullptr;
      Spec spec;
      c.make(spec);
      setOrUnset("GPT_VK_COOPMAT", c.coopmat);
      setOrUnset("GPT_VK_MATMUL", c.matmul);
      gFixture = spec.build();
      gActive = &c;
      gFixture->exec->run("f", gFixture->views); // record, create pipelines
    }
    VulkanExecutor &exec = *gFixture->exec;
    int64_t left = 0;
    double perCall = 0;
    for (auto _ : state) {
      if (left == 0) {
        exec.resetProfile();
        exec.run("f", gFixture->views);
        auto it = exec.profile().find(c.kernel);
        if (it == exec.profile().end() || it->second.calls == 0) {
          state.SkipWithError("no GPU time for the kernel (does the device "
                              "support timestamp queries?)");
          gFailed = true;
          break;
        }
        perCall = it->second.seconds / double(it->second.calls);
        left = it->second.calls;
      }
      state.SetIterationTime(perCall);
      --left;
    }
  } catch (const std::exception &e) {
    gFixture.reset();
    gActive = nullptr;
    state.SkipWithError(e.what());
    gFailed = true;
    return;
  }
  if (c.flops > 0)
    state.counters["GFLOP/s"] = rate(1e-9 * c.flops);
  if (c.bytes > 0)
    state.counters["GB/s"] = rate(1e-9 * c.bytes);
  state.SetLabel("calls/run=" + std::to_string(c.reps) +
                 (gDevice.flushFloats ? " flushed" : ""));
}

/// Registers `c` under `name` with the shape arguments shown in its name.
void add(const std::string &name, const std::vector<std::string> &argNames,
         const std::vector<int64_t> &args, Case c) {
  auto owned = std::make_shared<Case>(std::move(c));
  benchmark::RegisterBenchmark(
      name.c_str(),
      [owned](benchmark::State &state) { runCase(state, *owned); })
      ->Args(args)
      ->ArgNames(argNames)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

/// Repeats for a kernel of this size: small ones several times per run().
int repsFor(double flops, double bytes) {
  return flops < 2e9 && bytes < 512e6 ? gDevice.reps : 1;
}

// ---- linear
// ------------------------------------------------------------------

/// `linear` on fp32 FMA shaders, or with `coopmat` on the tensor-core
/// shader (fp16 inputs, fp32 accumulation; benchmark "linear_coopmat").
void addLinear(int64_t M, int64_t K, int64_t N, bool tw, bool coopmat = false) {
  const bool bias = N != 50257; // the LM head has none
  if (gDevice.lavapipe) {
    if (M > 8)
      M /= 16;
    if (N >= 4096)
      N /= 8;
    if (K >= 4096)
      K /= 8;
  }
  Case c;
  c.kernel = "linear";
  c.flops = 2.0 * M * N * K;
  c.bytes = 4.0 * (M * K + K * N + M * N + (bias ? N : 0));
  c.reps = repsFor(c.flops, c.bytes);
  if (coopmat) {
    c.coopmat = "all";
    c.matmul = "coopmat";
  }
  c.make = [=](Spec &s) {
    int x = s.random("x", {M, K});
    int w = s.random("w", tw ? std::vector<int64_t>{N, K}
                             : std::vector<int64_t>{K, N});
    int bi = bias ? s.random("bias", {N}) : -1;
    int y = s.b.temp({M, N});
    s.timed("linear", {x, w, bi}, {y}, {{"transpose_weight", tw}}, c.reps);
  };
  add(coopmat ? "linear_coopmat" : "linear", {"M", "K", "N", "tw"},
      {M, K, N, tw}, c);
}

void addLinearWeightGrad(int64_t M, int64_t K, int64_t N, bool tw) {
  if (gDevice.lavapipe)
    M /= 16;
  Case c;
  c.kernel = "linear_weight_grad";
  c.flops = 2.0 * M * N * K;
  c.bytes = 4.0 * (M * K + M * N + K * N);
  c.reps = repsFor(c.flops, c.bytes);
  c.make = [=](Spec &s) {
    int x = s.random("x", {M, K});
    int dy = s.random("dy", {M, N});
    int dw =
        s.b.temp(tw ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N});
    s.timed("linear_weight_grad", {x, dy}, {dw}, {{"transpose_weight", tw}},
            c.reps);
  };
  add("linear_weight_grad", {"M", "K", "N", "tw"}, {M, K, N, tw}, c);
}

// ---- attention
// ---------------------------------------------------------------

/// Causal FLOPs of one forward: QK^T and PV over the unmasked half.
double attentionFlops(int64_t B, int64_t T, int64_t H, int64_t Dh) {
  return 2.0 * 2.0 * B * H * Dh * (T * (T + 1) / 2.0);
}

json attentionAttrs(int64_t H, int64_t Dh) {
  return {{"num_heads", H},
          {"scale", 1.0 / std::sqrt(double(Dh))},
          {"causal", true}};
}

void addAttention(int64_t B, int64_t T, int64_t D, int64_t H, bool grad) {
  if (gDevice.lavapipe) {
    B = 1;
    T = 128;
  }
  const int64_t Dh = D / H;
  Case c;
  c.kernel = grad ? "attention_grad" : "attention";
  c.flops = (grad ? 2.5 : 1.0) * attentionFlops(B, T, H, Dh);
  c.reps = repsFor(c.flops, 0);
  c.make = [=](Spec &s) {
    int q = s.random("q", {B, T, D});
    int k = s.random("k", {B, T, D});
    int v = s.random("v", {B, T, D});
    int o = s.b.temp({B, T, D}), lse = s.b.temp({B, H, T});
    json attrs = attentionAttrs(H, Dh);
    if (!grad) {
      s.timed("attention", {q, k, v}, {o, lse}, attrs, c.reps);
      return;
    }
    int dO = s.random("do", {B, T, D});
    s.b.kernel("attention", {q, k, v}, {o, lse}, attrs);
    int dq = s.b.temp({B, T, D}), dk = s.b.temp({B, T, D}),
        dv = s.b.temp({B, T, D});
    s.timed("attention_grad", {dO, q, k, v, o, lse}, {dq, dk, dv}, attrs,
            c.reps);
  };
  add(c.kernel, {"B", "T", "D", "H"}, {B, T, D, H}, c);
}

/// Decode: one query per sequence after `context - 1` cached positions
/// (it attends `context` keys), blocks of 16 positions, shuffled pool.
void addPagedAttention(int64_t B, int64_t context, int64_t D, int64_t H) {
  if (gDevice.lavapipe)
    context /= 4;
  const int64_t Dh = D / H, BS = 16, NB = (context + BS - 1) / BS,
                N = B * NB + 7;
  Case c;
  c.kernel = "paged_attention";
  c.flops = 4.0 * B * context * D;
  c.bytes = 4.0 * (2 * B * context * D + 2 * B * D);
  c.reps = repsFor(c.flops, c.bytes);
  c.make = [=](Spec &s) {
    int q = s.random("q", {B, 1, D});
    int kc = s.random("k_cache", {N, BS, D});
    int vc = s.random("v_cache", {N, BS, D});
    std::vector<int32_t> pool(N);
    for (int64_t i = 0; i < N; ++i)
      pool[i] = int32_t(i);
    Rng rng{77};
    for (int64_t i = N - 1; i > 0; --i)
      std::swap(pool[i], pool[rng.next() % uint64_t(i + 1)]);
    pool.resize(B * NB);
    int tb = s.ints("block_table", {B, NB}, pool);
    int st =
        s.ints("start", {B}, std::vector<int32_t>(B, int32_t(context - 1)));
    int o = s.b.temp({B, 1, D});
    s.timed("paged_attention", {q, kc, vc, tb, st}, {o},
            {{"num_heads", H}, {"scale", 1.0 / std::sqrt(double(Dh))}}, c.reps);
  };
  add("paged_attention", {"B", "context", "D", "H"}, {B, context, D, H}, c);
}

// ---- layernorm, cross-entropy
// ------------------------------------------------

void addLayerNorm(int64_t rows, int64_t D) {
  if (gDevice.lavapipe)
    rows /= 8;
  Case c;
  c.kernel = "layernorm";
  c.bytes = 4.0 * (2 * rows * D + 2 * D);
  c.reps = repsFor(0, c.bytes);
  c.make = [=](Spec &s) {
    int x = s.random("x", {rows, D}, 2.0f);
    int g = s.random("gamma", {D});
    int be = s.random("beta", {D});
    int y = s.b.temp({rows, D});
    s.timed("layernorm", {x, g, be}, {y}, {{"epsilon", 1e-5}}, c.reps);
  };
  add("layernorm", {"rows", "D"}, {rows, D}, c);
}

void addCrossEntropy(int64_t rows, int64_t V) {
  if (gDevice.lavapipe)
    rows /= 32;
  Case c;
  c.kernel = "cross_entropy";
  c.bytes = 4.0 * (rows * V + rows);
  c.reps = repsFor(0, c.bytes);
  c.make = [=](Spec &s) {
    int logits = s.random("logits", {rows, V}, 4.0f);
    std::vector<int32_t> t(rows);
    for (int64_t i = 0; i < rows; ++i)
      t[i] = int32_t((i * 7919) % V);
    int targets = s.ints("targets", {rows}, std::move(t));
    int loss = s.b.temp({});
    s.timed("cross_entropy", {logits, targets, -1}, {loss}, json::object(),
            c.reps);
  };
  add("cross_entropy", {"rows", "V"}, {rows, V}, c);
}

void registerAll() {
  // GPT-2 124M at B*T = 8192 rows: attention projection, MLP up, and a
  // 512-row slice; then decode (1 and 8 rows) for MLP up and the LM head.
  for (bool tw : {false, true}) {
    for (auto [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{512, 768, 768},
                           {1024, 768, 3072},
                           {8192, 768, 768},
                           {1, 768, 3072},
                           {8, 768, 3072},
                           {1, 768, 50257},
                           {8, 768, 50257}})
      addLinear(M, K, N, tw);
  }
  // Square 4096 products: the fp32 FMA path, and tensor cores where the
  // device has cooperative matrices (also at the 124M training shapes).
  addLinear(4096, 4096, 4096, true);
  if (gDevice.info.coopmatUsable) {
    for (auto [M, K, N] :
         {std::tuple<int64_t, int64_t, int64_t>{4096, 4096, 4096},
          {8192, 768, 768},
          {8192, 768, 3072},
          {8192, 3072, 768},
          {512, 768, 768}})
      addLinear(M, K, N, true, true);
    addLinear(8192, 768, 3072, false, true);
  }
  for (bool tw : {false, true})
    addLinearWeightGrad(8192, 768, 768, tw);
  addAttention(8, 1024, 768, 12, false);
  addAttention(8, 1024, 768, 12, true);
  addPagedAttention(8, 1024, 768, 12);
  addLayerNorm(8192, 768);
  addCrossEntropy(8192, 50257);
}

/// Opens the device the benchmarks will use (same options) and records
/// what it is.
bool probeDevice() {
  try {
    Spec spec;
    auto f = spec.build();
    gDevice.info = f->exec->device();
  } catch (const std::exception &e) {
    std::fprintf(stderr, "bench_vulkan_kernels: no usable Vulkan device: %s\n",
                 e.what());
    return false;
  }
  gDevice.lavapipe = gDevice.info.type == "cpu";
  if (gDevice.lavapipe) {
    gDevice.reps = 1;
    gDevice.flushFloats = 0;
  }
  return true;
}

} // namespace
} // namespace gpt::bench

int main(int argc, char **argv) {
  using namespace gpt::bench;
  std::vector<char *> args(argv, argv + argc);
  bool minTimeGiven = false;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--benchmark_min_time", 20) == 0)
      minTimeGiven = true;
  static char defaultMinTime[] = "--benchmark_min_time=0.1";
  if (!minTimeGiven)
    args.insert(args.begin() + 1, defaultMinTime);
  int n = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data()))
    return 1;
  if (!probeDevice())
    return 1;
  const gpt::VulkanDeviceInfo &d = gDevice.info;
  benchmark::AddCustomContext("vulkan_device", d.name);
  benchmark::AddCustomContext("vulkan_device_type", d.type);
  benchmark::AddCustomContext("vulkan_driver", d.driver);
  benchmark::AddCustomContext("vulkan_api", d.apiVersion);
  benchmark::AddCustomContext("vulkan_subgroup_size",
                              std::to_string(d.subgroupSize));
  benchmark::AddCustomContext("vulkan_device_local_mib",
                              std::to_string(d.deviceLocalBytes >> 20));
  benchmark::AddCustomContext("vulkan_cooperative_matrix", d.coopmat);
  benchmark::AddCustomContext("shapes",
                              gDevice.lavapipe ? "shrunk (lavapipe)" : "full");
  if (const char *peak = std::getenv("GPT_BENCH_FP32_PEAK_GFLOPS"))
    benchmark::AddCustomContext("fp32_peak_gflops", peak);
  registerAll();
  size_t ran = benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  gFixture.reset();
  if (ran == 0) // a filter that matches nothing must fail the smoke test
    return 1;
  return gFailed ? 1 : 0;
}
