//===- ExecutorTest.cpp ---------------------------------------------------===//
//
// CpuExecutor: end-to-end functions, binding of B and T, arenas, in-place
// outputs and errors for bad bindings.
#include "Builder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

using namespace gpt;
using namespace gpt::test;
using json = nlohmann::json;

namespace {

/// mlp(x) = gelu(x W + b): `linear` then an `elementwise` program.
FunctionBuilder mlpBuilder(int K = 4, int N = 3) {
  FunctionBuilder b;
  b.name = "mlp";
  int x = b.input("x", {-1, -2, K});
  int w = b.input("w", {K, N}, "f32", "param");
  int bias = b.input("b", {N}, "f32", "param");
  int h = b.temp({-1, -2, N});
  int y = b.temp({-1, -2, N});
  b.kernel("linear", {x, w, bias}, {h}, {{"transpose_weight", false}});
  b.kernel("elementwise", {h}, {y},
           {{"program",
             {{"instructions", {{{"op", "gelu"}, {"args", {0}}}}},
              {"outputs", {1}}}}});
  b.output("y", y);
  return b;
}

std::vector<double> mlpRef(const Buf &x, const Buf &w, const Buf &b, int K,
                           int N) {
  std::vector<double> out;
  size_t rows = x.f.size() / K;
  for (size_t r = 0; r < rows; ++r)
    for (int n = 0; n < N; ++n) {
      double s = b.f[n];
      for (int k = 0; k < K; ++k)
        s += double(x.f[r * K + k]) * w.f[k * N + n];
      out.push_back(
          0.5 * s *
          (1 + std::tanh(std::sqrt(2 / M_PI) * (s + 0.044715 * s * s * s))));
    }
  return out;
}

std::string errorOf(const std::function<void()> &f) {
  try {
    f();
  } catch (const ExecutorError &e) {
    return e.what();
  } catch (const ArtifactError &e) {
    return std::string("ArtifactError: ") + e.what();
  }
  return "<no error>";
}

} // namespace

TEST(Executor, EndToEndFromFile) {
  std::string path = ::testing::TempDir() + "/executor_mlp.gptart";
  writeArtifactFile(path, manifestOf({mlpBuilder().function()}));
  Artifact a = readArtifact(path);
  std::remove(path.c_str());
  CpuExecutor ex(a, 2);
  Buf x = randn({2, 3, 4}, 1), w = randn({4, 3}, 2), b = randn({3}, 3);
  auto out = ex.run("mlp", {{"x", x.view()}, {"w", w.view()}, {"b", b.view()}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out["y"].shape, (std::vector<int64_t>{2, 3, 3}));
  EXPECT_EQ(out["y"].dtype, DType::F32);
  EXPECT_TRUE(near(out["y"].f32, mlpRef(x, w, b, 4, 3)));
}

TEST(Executor, BindingAndArenaReuse) {
  CpuExecutor ex(artifactOf(mlpBuilder()), 2);
  Buf w = randn({4, 3}, 2), b = randn({3}, 3);
  auto runWith = [&](int64_t Bn, int64_t Tn, uint32_t seed) {
    Buf x = randn({Bn, Tn, 4}, seed);
    auto out =
        ex.run("mlp", {{"x", x.view()}, {"w", w.view()}, {"b", b.view()}});
    EXPECT_EQ(out["y"].shape, (std::vector<int64_t>{Bn, Tn, 3}));
    EXPECT_TRUE(near(out["y"].f32, mlpRef(x, w, b, 4, 3)));
  };
  const size_t perToken = 2 * 3 * 4; // two [.., 3] f32 temporaries
  runWith(2, 5, 10);
  ArenaInfo info = ex.arenaInfo("mlp");
  EXPECT_EQ(info.tokenCapacity, perToken * 10);
  EXPECT_EQ(info.tokenAllocations, 1);
  EXPECT_EQ(info.B, 2);
  EXPECT_EQ(info.T, 5);
  runWith(3, 2, 11); // smaller: reused
  info = ex.arenaInfo("mlp");
  EXPECT_EQ(info.tokenCapacity, perToken * 10);
  EXPECT_EQ(info.tokenAllocations, 1);
  EXPECT_EQ(info.T, 2);
  runWith(4, 7, 12); // larger: grown once
  info = ex.arenaInfo("mlp");
  EXPECT_EQ(info.tokenCapacity, perToken * 28);
  EXPECT_EQ(info.tokenAllocations, 2);
  runWith(1, 1, 13);
  runWith(4, 7, 14);
  EXPECT_EQ(ex.arenaInfo("mlp").tokenAllocations, 2);
}

// Kernel scratch (layernorm's per-row mean and rstd here) is sized by the
// largest binding run so far and reported; repeated and smaller calls do
// not grow it, so a long-running server's scratch cannot creep.
TEST(Executor, KernelScratchGrowsWithTheBindingNotWithCalls) {
  FunctionBuilder b;
  b.name = "ln";
  const int D = 8;
  int x = b.input("x", {-1, -2, D});
  int g = b.input("g", {D}, "f32", "param");
  int be = b.input("b", {D}, "f32", "param");
  int y = b.temp({-1, -2, D});
  b.kernel("layernorm", {x, g, be}, {y}, {{"epsilon", 1e-5}});
  b.output("y", y);
  CpuExecutor ex(artifactOf(b), 2);
  Buf gb = randn({D}, 2), bb = randn({D}, 3);
  auto runWith = [&](int64_t Bn, int64_t Tn) {
    Buf xb = randn({Bn, Tn, D}, 4);
    ex.run("ln", {{"x", xb.view()}, {"g", gb.view()}, {"b", bb.view()}});
    return ex.kernelScratchBytes();
  };
  EXPECT_EQ(ex.kernelScratchBytes(), 0u);
  const uint64_t first = runWith(2, 5);
  EXPECT_EQ(first, 2u * 2 * 5 * sizeof(float)); // mean and rstd per row
  EXPECT_EQ(ex.arenaInfo("ln").scratchBytes, first);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(runWith(2, 5), first);
  EXPECT_EQ(runWith(1, 3), first);                      // smaller: reused
  EXPECT_EQ(runWith(4, 5), 2u * 4 * 5 * sizeof(float)); // larger: grown
  EXPECT_EQ(runWith(2, 5), 2u * 4 * 5 * sizeof(float));
}

TEST(Executor, ThreadCountsAgree) {
  Artifact a = artifactOf(mlpBuilder(64, 48));
  Buf x = randn({3, 17, 64}, 1), w = randn({64, 48}, 2), b = randn({48}, 3);
  std::map<std::string, TensorView> in = {
      {"x", x.view()}, {"w", w.view()}, {"b", b.view()}};
  CpuExecutor one(a, 1), three(a, 3), global(a);
  auto r1 = one.run("mlp", in)["y"].f32;
  EXPECT_EQ(r1, three.run("mlp", in)["y"].f32);
  EXPECT_EQ(r1, global.run("mlp", in)["y"].f32);
  EXPECT_TRUE(near(r1, mlpRef(x, w, b, 64, 48), 1e-4, 1e-4));
}

TEST(Executor, TokensInputBindsBT) {
  // "tokens" is not the first input: it still binds B and T, and an
  // inconsistent second input names both.
  FunctionBuilder f;
  int m = f.input("mask", {-1, -2});
  int tok = f.input("tokens", {-1, -2}, "i32");
  int table = f.input("table", {5, 2}, "f32", "param");
  int e = f.temp({-1, -2, 2});
  f.kernel("embedding", {table, tok}, {e});
  f.output("e", e);
  (void)m;
  CpuExecutor ex(artifactOf(f), 1);
  Buf mask = randn({2, 4}, 1), tokens = ints({2, 3}, {0, 1, 2, 3, 4, 0}),
      t = randn({5, 2}, 2);
  std::string msg = errorOf([&] {
    ex.run("f", {{"mask", mask.view()},
                 {"tokens", tokens.view()},
                 {"table", t.view()}});
  });
  EXPECT_EQ(msg, "function 'f': input 'mask': dim 1 of shape [2, 4] is 4 but "
                 "T = 3 (from input 'tokens')");
  mask = randn({2, 3}, 1);
  auto out = ex.run(
      "f",
      {{"mask", mask.view()}, {"tokens", tokens.view()}, {"table", t.view()}});
  EXPECT_EQ(out["e"].f32[2], t.f[2]);
}

TEST(Executor, BadBindings) {
  CpuExecutor ex(artifactOf(mlpBuilder()), 1);
  Buf x = randn({2, 3, 4}, 1), w = randn({4, 3}, 2), b = randn({3}, 3);
  auto err = [&](std::map<std::string, TensorView> in,
                 const std::string &fn = "mlp") {
    return errorOf([&] { ex.run(fn, in); });
  };
  std::map<std::string, TensorView> good = {
      {"x", x.view()}, {"w", w.view()}, {"b", b.view()}};
  EXPECT_EQ(err(good, "train"),
            "no function 'train' in the artifact (it has: mlp)");
  auto missing = good;
  missing.erase("w");
  EXPECT_EQ(err(missing), "function 'mlp': missing input 'w'");
  auto extra = good;
  extra["z"] = x.view();
  EXPECT_EQ(err(extra), "function 'mlp': unexpected input 'z'");
  auto dtype = good;
  dtype["w"].dtype = DType::I32;
  EXPECT_EQ(err(dtype), "function 'mlp': input 'w': dtype i32, expected f32");
  auto rank = good;
  rank["x"].shape = {6, 4};
  EXPECT_EQ(err(rank), "function 'mlp': input 'x': shape [6, 4] has rank 2, "
                       "expected [B, T, 4]");
  auto dim = good;
  dim["w"].shape = {4, 2};
  EXPECT_EQ(err(dim), "function 'mlp': input 'w': dim 1 of shape [4, 2] is 2, "
                      "expected 3 (declared [4, 3])");
  auto zero = good;
  zero["x"].shape = {0, 3, 4};
  EXPECT_NE(err(zero).find("B must be >= 1"), std::string::npos);
  auto null = good;
  null["b"].data = nullptr;
  EXPECT_EQ(err(null), "function 'mlp': input 'b': data pointer is null");
  // The executor still works after errors.
  EXPECT_NO_THROW(ex.run("mlp", good));
}

TEST(Executor, RejectsNonCpuTargetAndInvalidInMemory) {
  Artifact a = artifactOf(mlpBuilder());
  a.target = "vulkan";
  EXPECT_NE(errorOf([&] { CpuExecutor ex(a); }).find("target is 'vulkan'"),
            std::string::npos);
  a.target = "cpu";
  a.functions[0].kernels[0].inputs[0] = 42;
  EXPECT_NE(errorOf([&] { CpuExecutor ex(a); }).find("ArtifactError"),
            std::string::npos);
}

TEST(Executor, InPlaceAccumulation) {
  // grad += scale * x, written in place into the caller's "grad" buffer
  // through an alias; a second output is copied back to its input since it
  // lives in the arena (alias_input without an alias storage).
  FunctionBuilder f;
  int x = f.input("x", {-1, -2, 3});
  int grad = f.input("grad.w", {3}, "f32", "state");
  int counter = f.input("counter", {}, "f32", "state");
  int s = f.temp({3});
  int g2 = f.alias(grad, {3});
  int c2 = f.temp({});
  f.kernel("sum_leading", {x}, {s});
  f.kernel("elementwise", {grad, s}, {g2},
           {{"program",
             {{"instructions",
               {{{"op", "scale"}, {"args", {1}}, {"factor", 0.5}},
                {{"op", "add"}, {"args", {0, 2}}}}},
              {"outputs", {3}}}}});
  f.kernel("fill", {}, {c2}, {{"value", 7}});
  f.output("grad.w'", g2, 1);
  f.output("counter'", c2, 2);
  CpuExecutor ex(artifactOf(f), 2);
  Buf xb = randn({2, 2, 3}, 5);
  Buf gb = floats({3}, {1, 2, 3});
  Buf cb = scalar(0);
  for (int iter = 1; iter <= 3; ++iter) {
    auto out = ex.run(
        "f", {{"x", xb.view()}, {"grad.w", gb.view()}, {"counter", cb.view()}});
    EXPECT_TRUE(out.empty());
    for (int j = 0; j < 3; ++j) {
      double s = 0;
      for (int r = 0; r < 4; ++r)
        s += xb.f[r * 3 + j];
      EXPECT_NEAR(gb.f[j], (j + 1) + iter * 0.5 * s, 1e-5);
    }
    EXPECT_EQ(cb.f[0], 7.0f);
  }
}

TEST(Executor, ReadOnlyInputsAreNotWritten) {
  Buf x = randn({2, 3, 4}, 1), w = randn({4, 3}, 2), b = randn({3}, 3);
  Buf x0 = x, w0 = w, b0 = b;
  CpuExecutor ex(artifactOf(mlpBuilder()), 2);
  ex.run("mlp", {{"x", x.view()}, {"w", w.view()}, {"b", b.view()}});
  EXPECT_EQ(x.f, x0.f);
  EXPECT_EQ(w.f, w0.f);
  EXPECT_EQ(b.f, b0.f);
}

TEST(Executor, MultipleFunctionsKeepSeparateArenas) {
  FunctionBuilder a = mlpBuilder(), b = mlpBuilder(4, 5);
  b.name = "mlp5";
  Artifact art =
      parseArtifact(serializeArtifact(manifestOf({a.function(), b.function()})),
                    "two.gptart");
  CpuExecutor ex(art, 2);
  Buf x = randn({1, 2, 4}, 1), w3 = randn({4, 3}, 2), w5 = randn({4, 5}, 3),
      b3 = randn({3}, 4), b5 = randn({5}, 5);
  auto y3 =
      ex.run("mlp", {{"x", x.view()}, {"w", w3.view()}, {"b", b3.view()}});
  auto y5 =
      ex.run("mlp5", {{"x", x.view()}, {"w", w5.view()}, {"b", b5.view()}});
  EXPECT_TRUE(near(y3["y"].f32, mlpRef(x, w3, b3, 4, 3)));
  EXPECT_TRUE(near(y5["y"].f32, mlpRef(x, w5, b5, 4, 5)));
  EXPECT_EQ(ex.arenaInfo("mlp").tokenCapacity, 2u * 2 * 3 * 4);
  EXPECT_EQ(ex.arenaInfo("mlp5").tokenCapacity, 2u * 2 * 5 * 4);
}
