//===- CpuKernelsBench.cpp - Google Benchmark for the CPU kernels -------===//
//
// Counters (per second, so they survive --benchmark_format=json):
//   GFLOP/s  useful floating-point operations (2 per multiply-add; causal
//            attention counts only the unmasked half)
//   GB/s     bytes read + written once, for the memory-bound kernels
// Arguments are shapes, then `threads` (size of the pool) and `isa`
// (0 scalar, 1 avx2, 2 avx512; skipped if the CPU lacks it).
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/Activation.h"
#include "runtime/cpu/Attention.h"
#include "runtime/cpu/Isa.h"
#include "runtime/cpu/LayerNorm.h"
#include "runtime/cpu/Matmul.h"
#include "runtime/cpu/Softmax.h"
#include "runtime/cpu/ThreadPool.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <vector>

#ifdef GPT_BENCH_OPENBLAS
#include <cblas.h>
#endif

namespace gpt::cpu {
namespace {

ThreadPool &poolOf(int threads) {
  static std::map<int, std::unique_ptr<ThreadPool>> pools;
  auto &p = pools[threads];
  if (!p)
    p = std::make_unique<ThreadPool>(threads);
  return *p;
}

std::vector<float> randomVector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

/// Selects the ISA from the argument; false (and the run skipped) if the CPU
/// lacks it.
bool selectIsa(benchmark::State &state, int64_t arg) {
  Isa isa = static_cast<Isa>(arg);
  if (!isaSupported(isa)) {
    state.SkipWithError("ISA not supported on this CPU");
    return false;
  }
  setIsa(isa);
  state.SetLabel(isaName(isa));
  return true;
}

benchmark::Counter rate(double perIteration) {
  return benchmark::Counter(perIteration,
                            benchmark::Counter::kIsIterationInvariantRate);
}

// ---- matmul -----------------------------------------------------------------

/// Linear-layer shape: out[M, N] = inp[M, K] * W[N, K]^T (B transposed, as
/// in the forward pass of every GPT linear layer).
void BM_LinearGemm(benchmark::State &state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  ThreadPool &pool = poolOf(static_cast<int>(state.range(3)));
  if (!selectIsa(state, state.range(4)))
    return;
  auto A = randomVector(M * K, 1), B = randomVector(N * K, 2);
  std::vector<float> C(M * N);
  for (auto _ : state) {
    gemm(false, true, M, N, K, 1.0f, A.data(), K, B.data(), K, 0.0f, C.data(),
         N, pool);
    benchmark::DoNotOptimize(C.data());
  }
  state.counters["GFLOP/s"] = rate(2e-9 * M * N * K);
}

/// The three products of a linear layer's training step for out[M, N] =
/// inp[M, K] W[N, K]^T: forward, dinp = dout W, dW = dout^T inp.
void BM_LinearTrainStep(benchmark::State &state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  ThreadPool &pool = poolOf(static_cast<int>(state.range(3)));
  if (!selectIsa(state, state.range(4)))
    return;
  auto x = randomVector(M * K, 1), w = randomVector(N * K, 2),
       b = randomVector(N, 3), dout = randomVector(M * N, 4);
  std::vector<float> y(M * N), dx(M * K), dw(N * K), db(N);
  for (auto _ : state) {
    linearForward(y.data(), x.data(), w.data(), b.data(), M, K, N, pool);
    linearBackward(dx.data(), dw.data(), db.data(), dout.data(), x.data(),
                   w.data(), M, K, N, false, pool);
    benchmark::DoNotOptimize(dw.data());
  }
  state.counters["GFLOP/s"] = rate(3 * 2e-9 * M * N * K);
}

#ifdef GPT_BENCH_OPENBLAS
/// The reference of BM_LinearGemm, same shapes and threads.
void BM_OpenBlasSgemm(benchmark::State &state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  openblas_set_num_threads(static_cast<int>(state.range(3)));
  auto A = randomVector(M * K, 1), B = randomVector(N * K, 2);
  std::vector<float> C(M * N);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f,
                A.data(), K, B.data(), K, 0.0f, C.data(), N);
    benchmark::DoNotOptimize(C.data());
  }
  state.counters["GFLOP/s"] = rate(2e-9 * M * N * K);
}

/// The reference of BM_LinearTrainStep: the same three products with
/// OpenBLAS (forward y = x W^T, dx = dout W, dW = dout^T x), bias and its
/// gradient left out (they are not matmuls).
void BM_OpenBlasLinearTrainStep(benchmark::State &state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  openblas_set_num_threads(static_cast<int>(state.range(3)));
  auto x = randomVector(M * K, 1), w = randomVector(N * K, 2),
       dout = randomVector(M * N, 4);
  std::vector<float> y(M * N), dx(M * K), dw(N * K);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f,
                x.data(), K, w.data(), K, 0.0f, y.data(), N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1.0f,
                dout.data(), N, w.data(), K, 0.0f, dx.data(), K);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1.0f,
                dout.data(), N, x.data(), K, 0.0f, dw.data(), K);
    benchmark::DoNotOptimize(dw.data());
  }
  state.counters["GFLOP/s"] = rate(3 * 2e-9 * M * N * K);
}
#endif

using Shape3 = std::tuple<int64_t, int64_t, int64_t>;

/// The linear layers (M rows, N outputs, K inputs) of GPT-2 124M at
/// B*T = 1024 (qkv, attention projection, MLP up, MLP down, LM head), of the
/// issue's training shapes (a), (b), (c), and of decode (1 and 8 rows) and
/// prefill (512 rows) at 124M.
const std::vector<Shape3> &linearShapes() {
  static const std::vector<Shape3> shapes = {
      {1024, 768, 768},   {1024, 2304, 768},
      {1024, 3072, 768},  {1024, 768, 3072},
      {1024, 50257, 768}, {2048, 384, 128}, // (a) qkv, B*T = 2048
      {2048, 512, 128},                     // (a) MLP up
      {2048, 128, 512},                     // (a) MLP down
      {1024, 256, 256},                     // (b) attention projection
      {1024, 768, 256},                     // (b) qkv
      {1024, 1024, 256},                    // (b) MLP up
      {1024, 256, 1024},                    // (b) MLP down
      {1024, 50257, 256},                   // (b) LM head
      {256, 2304, 768},                     // (c) qkv, B*T = 256
      {256, 3072, 768},                     // (c) MLP up
      {256, 768, 3072},                     // (c) MLP down
      {256, 50257, 768},                    // (c) LM head
      {1, 2304, 768},                       // decode, batch 1
      {8, 2304, 768},                       // decode, batch 8
      {8, 50257, 768},                      // decode LM head, batch 8
      {512, 2304, 768},                     // prefill 512
  };
  return shapes;
}

/// Every linear shape on 1 and 2 threads; `isa` appends the ISA argument.
void linearShapeArgs(benchmark::internal::Benchmark *b, bool isa) {
  const int64_t best = static_cast<int64_t>(detectIsa());
  for (int64_t threads : {1, 2})
    for (auto [M, N, K] : linearShapes()) {
      if (isa)
        b->Args({M, N, K, threads, best});
      else
        b->Args({M, N, K, threads});
    }
}

// Ours at every linear shape, then each ISA level on one shape, one thread.
void gemmShapes(benchmark::internal::Benchmark *b) {
  linearShapeArgs(b, true);
  const int64_t best = static_cast<int64_t>(detectIsa());
  for (int64_t isa = 0; isa <= best; ++isa)
    b->Args({1024, 768, 768, 1, isa});
}

BENCHMARK(BM_LinearGemm)
    ->ArgNames({"M", "N", "K", "threads", "isa"})
    ->Apply(gemmShapes)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(BM_LinearTrainStep)
    ->ArgNames({"M", "N", "K", "threads", "isa"})
    ->Apply([](benchmark::internal::Benchmark *b) { linearShapeArgs(b, true); })
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

#ifdef GPT_BENCH_OPENBLAS
BENCHMARK(BM_OpenBlasSgemm)
    ->ArgNames({"M", "N", "K", "threads"})
    ->Apply([](benchmark::internal::Benchmark *b) {
      linearShapeArgs(b, false);
    })
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(BM_OpenBlasLinearTrainStep)
    ->ArgNames({"M", "N", "K", "threads"})
    ->Apply([](benchmark::internal::Benchmark *b) {
      linearShapeArgs(b, false);
    })
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
#endif

// ---- attention --------------------------------------------------------------

/// Causal FLOPs of one forward: QK^T and PV over the unmasked half.
double attentionFlops(int64_t B, int64_t T, int64_t H, int64_t Dh) {
  return 2.0 * 2.0 * B * H * Dh * (T * (T + 1) / 2.0);
}

void BM_AttentionForward(benchmark::State &state) {
  const int64_t B = state.range(0), T = state.range(1), H = state.range(2),
                Dh = state.range(3);
  ThreadPool &pool = poolOf(static_cast<int>(state.range(4)));
  if (!selectIsa(state, state.range(5)))
    return;
  auto qkv = randomVector(B * T * 3 * H * Dh, 1);
  std::vector<float> out(B * T * H * Dh), lse(B * H * T);
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  for (auto _ : state) {
    attentionForward(out.data(), lse.data(), qkv.data(), B, T, H, Dh, scale,
                     pool);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GFLOP/s"] = rate(1e-9 * attentionFlops(B, T, H, Dh));
}

void BM_AttentionBackward(benchmark::State &state) {
  const int64_t B = state.range(0), T = state.range(1), H = state.range(2),
                Dh = state.range(3);
  ThreadPool &pool = poolOf(static_cast<int>(state.range(4)));
  if (!selectIsa(state, state.range(5)))
    return;
  auto qkv = randomVector(B * T * 3 * H * Dh, 1);
  auto dout = randomVector(B * T * H * Dh, 2);
  std::vector<float> out(B * T * H * Dh), lse(B * H * T), dqkv(qkv.size());
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  attentionForward(out.data(), lse.data(), qkv.data(), B, T, H, Dh, scale,
                   pool);
  for (auto _ : state) {
    attentionBackward(dqkv.data(), dout.data(), qkv.data(), out.data(),
                      lse.data(), B, T, H, Dh, scale, pool);
    benchmark::DoNotOptimize(dqkv.data());
  }
  // Five products per tile (S recomputed, dV, dP, dQ, dK).
  state.counters["GFLOP/s"] = rate(2.5e-9 * attentionFlops(B, T, H, Dh));
}

void attentionShapes(benchmark::internal::Benchmark *b) {
  const int64_t best = static_cast<int64_t>(detectIsa());
  for (int threads : {1, 2}) {
    b->Args({4, 1024, 12, 64, threads, best});
    b->Args({8, 256, 4, 32, threads, best}); // (a)
    b->Args({4, 256, 4, 64, threads, best}); // (b)
    b->Args({4, 64, 12, 64, threads, best}); // (c)
  }
}

BENCHMARK(BM_AttentionForward)
    ->ArgNames({"B", "T", "H", "Dh", "threads", "isa"})
    ->Apply(attentionShapes)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_AttentionBackward)
    ->ArgNames({"B", "T", "H", "Dh", "threads", "isa"})
    ->Apply(attentionShapes)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ---- memory-bound kernels ---------------------------------------------------

void BM_LayerNormForward(benchmark::State &state) {
  const int64_t rows = state.range(0), C = state.range(1);
  ThreadPool &pool = poolOf(static_cast<int>(state.range(2)));
  if (!selectIsa(state, state.range(3)))
    return;
  auto x = randomVector(rows * C, 1), g = randomVector(C, 2),
       b = randomVector(C, 3);
  std::vector<float> y(rows * C), mean(rows), rstd(rows);
  for (auto _ : state) {
    layernormForward(y.data(), mean.data(), rstd.data(), x.data(), g.data(),
                     b.data(), rows, C, 1e-5f, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] = rate(1e-9 * 2 * rows * C * sizeof(float));
}

void BM_LayerNormBackward(benchmark::State &state) {
  const int64_t rows = state.range(0), C = state.range(1);
  ThreadPool &pool = poolOf(static_cast<int>(state.range(2)));
  if (!selectIsa(state, state.range(3)))
    return;
  auto x = randomVector(rows * C, 1), g = randomVector(C, 2),
       b = randomVector(C, 3), dout = randomVector(rows * C, 4);
  std::vector<float> y(rows * C), mean(rows), rstd(rows), dx(rows * C), dg(C),
      db(C);
  layernormForward(y.data(), mean.data(), rstd.data(), x.data(), g.data(),
                   b.data(), rows, C, 1e-5f, pool);
  for (auto _ : state) {
    layernormBackward(dx.data(), dg.data(), db.data(), dout.data(), x.data(),
                      g.data(), mean.data(), rstd.data(), rows, C, false, pool);
    benchmark::DoNotOptimize(dx.data());
  }
  state.counters["GB/s"] = rate(1e-9 * 3 * rows * C * sizeof(float));
}

void BM_GeluForward(benchmark::State &state) {
  const int64_t n = state.range(0);
  ThreadPool &pool = poolOf(static_cast<int>(state.range(1)));
  if (!selectIsa(state, state.range(2)))
    return;
  auto x = randomVector(n, 1);
  std::vector<float> y(n);
  for (auto _ : state) {
    geluForward(y.data(), x.data(), n, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] = rate(1e-9 * 2 * n * sizeof(float));
}

void BM_CrossEntropy(benchmark::State &state) {
  const int64_t N = state.range(0), V = state.range(1);
  ThreadPool &pool = poolOf(static_cast<int>(state.range(2)));
  if (!selectIsa(state, state.range(3)))
    return;
  auto x = randomVector(N * V, 1);
  std::vector<int32_t> t(N);
  for (int64_t i = 0; i < N; ++i)
    t[i] = static_cast<int32_t>((i * 7919) % V);
  std::vector<float> lse(N), dx(N * V);
  for (auto _ : state) {
    float loss = crossEntropyForward(nullptr, lse.data(), x.data(), t.data(),
                                     nullptr, N, V, pool);
    crossEntropyBackward(dx.data(), x.data(), lse.data(), t.data(), nullptr, N,
                         V, 1.0f, pool);
    benchmark::DoNotOptimize(loss);
  }
  // logits read twice, dlogits written once.
  state.counters["GB/s"] = rate(1e-9 * 3 * N * V * sizeof(float));
}

void elementwiseIsas(benchmark::internal::Benchmark *b, int64_t a0,
                     int64_t a1) {
  for (int64_t isa = 0; isa <= static_cast<int64_t>(detectIsa()); ++isa)
    b->Args({a0, a1, 1, isa});
  b->Args({a0, a1, 2, static_cast<int64_t>(detectIsa())});
}

BENCHMARK(BM_LayerNormForward)
    ->ArgNames({"rows", "C", "threads", "isa"})
    ->Apply([](benchmark::internal::Benchmark *b) {
      elementwiseIsas(b, 4096, 768);
    })
    ->UseRealTime();
BENCHMARK(BM_LayerNormBackward)
    ->ArgNames({"rows", "C", "threads", "isa"})
    ->Apply([](benchmark::internal::Benchmark *b) {
      elementwiseIsas(b, 4096, 768);
    })
    ->UseRealTime();
BENCHMARK(BM_GeluForward)
    ->ArgNames({"n", "threads", "isa"})
    ->Apply([](benchmark::internal::Benchmark *b) {
      for (int64_t isa = 0; isa <= static_cast<int64_t>(detectIsa()); ++isa)
        b->Args({4096 * 3072, 1, isa});
    })
    ->UseRealTime();
BENCHMARK(BM_CrossEntropy)
    ->ArgNames({"N", "V", "threads", "isa"})
    ->Apply([](benchmark::internal::Benchmark *b) {
      elementwiseIsas(b, 1024, 50257);
    })
    ->UseRealTime();

} // namespace
} // namespace gpt::cpu

BENCHMARK_MAIN();
