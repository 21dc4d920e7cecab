//===- NormLossKernelTest.cpp ---------------------------------------------===//
//
// Vulkan parity of layernorm(_grad), softmax(_grad), scaled_masked_softmax,
// causal_mask and cross_entropy(_grad) against the CPU executor. Shapes are
// small (lavapipe is slow) but cross the 128-thread workgroup width, are not
// multiples of it, have B > 1 and include empty / ignored rows.
#include "vulkan/Parity.h"

#include <limits>

using namespace gpt;
using namespace gpt::test;

namespace {

using Case = KernelCase;

void expectOut(const ParityResult &r, const std::string &name, float atol,
               float rtol) {
  ASSERT_TRUE(r.cpu.count(name) && r.vk.count(name)) << name;
  expectClose(r.cpu.at(name), r.vk.at(name), atol, rtol, name);
}

} // namespace

// Tolerance: fp32 row statistics summed in a different order than the CPU's
// (tree vs. SIMD lanes; the CPU grad uses double mean/variance): y to 1e-5
// relative; dx has a cancellation (g - mean(g) - xhat mean(g xhat)) so
// 2e-5 absolute; dgamma/dbeta are sums over up to 75 rows: 1e-4 relative.
TEST(VulkanNormLoss, LayerNormAndGrad) {
  struct Shape {
    int64_t B, T, D;
    bool beta, dgamma, dbeta;
  };
  for (Shape s : {Shape{2, 3, 37, true, true, true},
                  Shape{3, 25, 300, false, true, false},
                  Shape{1, 40, 129, true, false, true},
                  Shape{2, 2, 5, true, false, false}}) {
    Case c;
    int64_t D = s.D;
    int x = c.in("x", randn({s.B, s.T, D}, 4, 2.0f), {-1, -2, D});
    int g = c.in("g", randn({D}, 5));
    int be = s.beta ? c.in("b", randn({D}, 6)) : -1;
    int dy = c.in("dy", randn({s.B, s.T, D}, 7), {-1, -2, D});
    int y = c.b.temp({-1, -2, D}), dx = c.b.temp({-1, -2, D});
    int dg = s.dgamma ? c.b.temp({D}) : -1, db = s.dbeta ? c.b.temp({D}) : -1;
    c.b.kernel("layernorm", {x, g, be}, {y}, {{"epsilon", 1e-5}});
    c.b.kernel("layernorm_grad", {dy, x, g}, {dx, dg, db}, {{"epsilon", 1e-5}});
    c.b.output("y", y);
    c.b.output("dx", dx);
    if (dg >= 0)
      c.b.output("dg", dg);
    if (db >= 0)
      c.b.output("db", db);
    auto r = c.run();
    SCOPED_TRACE("D = " + std::to_string(D));
    expectOut(r, "y", 1e-5f, 1e-5f);
    expectOut(r, "dx", 2e-5f, 1e-4f);
    if (dg >= 0)
      expectOut(r, "dg", 1e-4f, 1e-4f);
    if (db >= 0)
      expectOut(r, "db", 1e-4f, 1e-4f);
  }
}

// Tolerance: the CPU uses a 2-ulp polynomial exp and a max-then-sum pass,
// the shader the device exp and an online max/sum merged by a tree: 1e-5
// relative, 1e-7 absolute for the tiny probabilities.
TEST(VulkanNormLoss, SoftmaxAnyAxisAndGrad) {
  for (std::vector<int64_t> shape :
       {std::vector<int64_t>{2, 3, 37}, std::vector<int64_t>{3, 300},
        std::vector<int64_t>{4, 5, 1}}) {
    Case c;
    int x = c.in("x", randn(shape, 15, 3.0f));
    int dy = c.in("dy", randn(shape, 16));
    for (int axis = -1; axis < int(shape.size()); ++axis) {
      std::string k = std::to_string(axis + 1);
      int y = c.b.temp(shape), dx = c.b.temp(shape);
      c.b.kernel("softmax", {x}, {y}, {{"axis", axis}});
      c.b.kernel("softmax_grad", {dy, y}, {dx}, {{"axis", axis}});
      c.b.output("y" + k, y);
      c.b.output("dx" + k, dx);
    }
    auto r = c.run();
    for (int axis = -1; axis < int(shape.size()); ++axis) {
      std::string k = std::to_string(axis + 1);
      SCOPED_TRACE("rank " + std::to_string(shape.size()) + " axis " +
                   std::to_string(axis));
      expectOut(r, "y" + k, 1e-7f, 1e-5f);
      expectOut(r, "dx" + k, 1e-6f, 1e-5f);
    }
  }
}

// Tolerance as softmax; causal_mask is a select, so exact.
TEST(VulkanNormLoss, ScaledMaskedSoftmaxAndCausalMask) {
  struct Shape {
    int64_t B, T, S; // S < T gives rows with no visible key (all zeros)
  };
  for (Shape s :
       {Shape{2, 4, 6}, Shape{3, 5, 3}, Shape{1, 130, 130}, Shape{2, 1, 200}}) {
    Case c;
    std::vector<int64_t> shape = {s.B, 2, s.T, s.S};
    int x = c.in("x", randn(shape, 17, 2.0f));
    int y = c.b.temp(shape), yn = c.b.temp(shape), m = c.b.temp(shape),
        m0 = c.b.temp(shape);
    c.b.kernel("scaled_masked_softmax", {x}, {y},
               {{"scale", 0.35}, {"causal", true}});
    c.b.kernel("scaled_masked_softmax", {x}, {yn},
               {{"scale", 0.35}, {"causal", false}});
    c.b.kernel("causal_mask", {x}, {m}, {{"fill", "-inf"}});
    c.b.kernel("causal_mask", {x}, {m0}, {{"fill", 0.0}});
    c.b.output("y", y);
    c.b.output("yn", yn);
    c.b.output("m", m);
    c.b.output("m0", m0);
    auto r = c.run();
    SCOPED_TRACE("T = " + std::to_string(s.T) + ", S = " + std::to_string(s.S));
    expectOut(r, "y", 1e-7f, 1e-5f);
    expectOut(r, "yn", 1e-7f, 1e-5f);
    EXPECT_EQ(r.cpu.at("m").f32, r.vk.at("m").f32);
    EXPECT_EQ(r.cpu.at("m0").f32, r.vk.at("m0").f32);
  }
}

// Tolerance: per-row logsumexp in fp32 (CPU: 2-ulp exp, SIMD order) and the
// mean summed in fp32 by a tree where the CPU sums in double: loss to 1e-5
// relative; dlogits = c w softmax, 1e-5 relative and 1e-8 absolute.
TEST(VulkanNormLoss, CrossEntropyAndGrad) {
  struct Shape {
    int64_t B, T, V;
    bool weighted;
  };
  for (Shape s : {Shape{2, 5, 7, false}, Shape{2, 5, 7, true},
                  Shape{3, 4, 1000, true}, Shape{2, 3, 300, false}}) {
    int64_t N = s.B * s.T, V = s.V;
    Case c;
    int logits = c.in("logits", randn({s.B, s.T, V}, 30, 2.0f), {-1, -2, V});
    std::vector<int32_t> tg(N);
    for (int64_t i = 0; i < N; ++i)
      tg[i] = i % 4 == 3 ? -1 : int32_t((i * 37 + 5) % V); // some ignored
    int targets = c.in("targets", ints({s.B, s.T}, tg), {-1, -2});
    int w = -1;
    if (s.weighted) {
      Buf wb = randn({s.B, s.T}, 31);
      for (float &v : wb.f)
        v = std::fabs(v);
      wb.f[0] = 0.0f;
      w = c.in("w", wb, {-1, -2});
    }
    int dloss = c.in("dloss", scalar(0.75f), std::vector<int64_t>{});
    int loss = c.b.temp({});
    int dl = c.b.temp({-1, -2, V});
    c.b.kernel("cross_entropy", {logits, targets, w}, {loss});
    c.b.kernel("cross_entropy_grad", {dloss, logits, targets, w}, {dl});
    c.b.output("loss", loss);
    c.b.output("dlogits", dl);
    auto r = c.run();
    SCOPED_TRACE("V = " + std::to_string(V));
    expectOut(r, "loss", 1e-6f, 1e-5f);
    expectOut(r, "dlogits", 1e-8f, 1e-5f);
  }
}

// Every target ignored: loss 0 and a zero gradient (exact).
TEST(VulkanNormLoss, CrossEntropyAllIgnored) {
  Case c;
  int logits = c.in("logits", randn({2, 3, 9}, 32), {-1, -2, 9});
  int targets =
      c.in("targets", ints({2, 3}, {-1, -1, -1, -1, -1, -1}), {-1, -2});
  int dloss = c.in("dloss", scalar(1.0f), std::vector<int64_t>{});
  int loss = c.b.temp({}), dl = c.b.temp({-1, -2, 9});
  c.b.kernel("cross_entropy", {logits, targets, -1}, {loss});
  c.b.kernel("cross_entropy_grad", {dloss, logits, targets, -1}, {dl});
  c.b.output("loss", loss);
  c.b.output("dlogits", dl);
  auto r = c.run();
  expectOut(r, "loss", 0, 0);
  expectOut(r, "dlogits", 0, 0);
  EXPECT_EQ(r.vk.at("loss").f32, std::vector<float>{0.0f});
}

// A target >= V is caught on the host (the shader cannot throw), with the
// CPU executor's wording and location, also when the second call replays the
// commands recorded by the first.
TEST(VulkanNormLoss, CrossEntropyTargetOutOfRange) {
  for (bool grad : {false, true}) {
    Case c;
    int logits = c.in("logits", randn({1, 2, 3}, 31), {-1, -2, 3});
    int targets = c.in("targets", ints({1, 2}, {0, 2}), {-1, -2});
    int out;
    if (grad) {
      int dloss = c.in("dloss", scalar(1.0f), std::vector<int64_t>{});
      out = c.b.temp({-1, -2, 3});
      c.b.kernel("cross_entropy_grad", {dloss, logits, targets, -1}, {out});
    } else {
      out = c.b.temp({});
      c.b.kernel("cross_entropy", {logits, targets, -1}, {out});
    }
    c.b.output("out", out);
    VulkanExecutor vk(vulkanArtifactOf(c.b), testVulkanOptions());
    std::map<std::string, TensorView> views;
    for (auto &kv : c.bufs)
      views[kv.first] = kv.second.view();
    vk.run(c.b.name, views); // valid: records the command buffer
    c.bufs["targets"].i[1] = 3;
    std::string msg = "<no error>";
    try {
      vk.run(c.b.name, views);
    } catch (const ExecutorError &e) {
      msg = e.what();
    }
    std::string kernel = grad ? "cross_entropy_grad" : "cross_entropy";
    EXPECT_NE(msg.find("kernels[0] (" + kernel + ")"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("cross-entropy: target 3 at position 1 is outside the "
                       "vocabulary of size 3"),
              std::string::npos)
        << msg;
    EXPECT_EQ(vk.validationMessages(), 0) << vk.lastValidationMessage();
  }
}

// No float atomics: the reductions (dgamma/dbeta column blocks, the
// cross-entropy mean, global_norm chunks) give bit-identical results when
// the same call runs twice.
TEST(VulkanNormLoss, ReductionsAreDeterministic) {
  const int64_t D = 300, V = 1000;
  Case c;
  int x = c.in("x", randn({3, 25, D}, 90, 2.0f), {-1, -2, D});
  int g = c.in("g", randn({D}, 91));
  int dy = c.in("dy", randn({3, 25, D}, 92), {-1, -2, D});
  int logits = c.in("logits", randn({3, 25, V}, 93, 2.0f), {-1, -2, V});
  std::vector<int32_t> tg(75);
  for (int i = 0; i < 75; ++i)
    tg[i] = (i * 131) % V;
  int targets = c.in("targets", ints({3, 25}, tg), {-1, -2});
  int dx = c.b.temp({-1, -2, D}), dg = c.b.temp({D}), db = c.b.temp({D});
  int loss = c.b.temp({}), norm = c.b.temp({});
  c.b.kernel("layernorm_grad", {dy, x, g}, {dx, dg, db}, {{"epsilon", 1e-5}});
  c.b.kernel("cross_entropy", {logits, targets, -1}, {loss});
  c.b.kernel("global_norm", {x, dy, logits}, {norm});
  for (auto [n, v] :
       {std::pair{"dg", dg}, {"db", db}, {"loss", loss}, {"norm", norm}})
    c.b.output(n, v);
  VulkanExecutor vk(vulkanArtifactOf(c.b), testVulkanOptions());
  std::map<std::string, TensorView> views;
  for (auto &kv : c.bufs)
    views[kv.first] = kv.second.view();
  auto first = vk.run(c.b.name, views);
  auto second = vk.run(c.b.name, views);
  EXPECT_EQ(vk.validationMessages(), 0) << vk.lastValidationMessage();
  for (const char *n : {"dg", "db", "loss", "norm"})
    EXPECT_EQ(first.at(n).f32, second.at(n).f32) << n;
}

// layernorm, softmax (contiguous rows) and cross_entropy have subgroup
// variants (*_sg, picked when the device has subgroup arithmetic; lavapipe:
// size 8) and the shared-memory fallback (GPT_VK_SUBGROUPS=0). Both against
// the CPU with the tolerances above, each bitwise equal from run to run (a
// second executor records and runs it again), and the two variants within
// those tolerances of each other. Rows shorter than the workgroup leave
// whole subgroups without elements; a softmax row whose first 200 entries
// are -inf leaves subgroups with only -inf.
TEST(VulkanNormLoss, SubgroupVariantsAndDeterminism) {
  const float inf = std::numeric_limits<float>::infinity();
  struct Shape {
    int64_t rows, D;
  };
  for (Shape s : {Shape{6, 5}, Shape{4, 37}, Shape{3, 300}, Shape{2, 1000}}) {
    SCOPED_TRACE("rows " + std::to_string(s.rows) + " D " +
                 std::to_string(s.D));
    const int64_t D = s.D;
    Case c;
    int x = c.in("x", randn({s.rows, D}, 40, 2.0f), {-1, D});
    Buf xm = randn({s.rows, D}, 41, 3.0f);
    for (int64_t j = 0; j < std::min<int64_t>(200, D - 1); ++j)
      xm.f[j] = -inf; // row 0: only its tail is finite
    int xmi = c.in("xm", xm, {-1, D});
    int g = c.in("g", randn({D}, 42));
    int be = c.in("b", randn({D}, 43));
    std::vector<int32_t> tg(s.rows);
    for (int64_t i = 0; i < s.rows; ++i)
      tg[i] = i % 3 == 2 ? -1 : int32_t((i * 53 + 1) % D);
    int targets = c.in("targets", ints({s.rows}, tg), {-1});
    int y = c.b.temp({-1, D}), sm = c.b.temp({-1, D}), smm = c.b.temp({-1, D});
    int loss = c.b.temp({});
    c.b.kernel("layernorm", {x, g, be}, {y}, {{"epsilon", 1e-5}});
    c.b.kernel("softmax", {x}, {sm}, {{"axis", -1}});
    c.b.kernel("softmax", {xmi}, {smm}, {{"axis", -1}});
    c.b.kernel("cross_entropy", {x, targets, -1}, {loss});
    for (auto [n, v] :
         {std::pair{"y", y}, {"sm", sm}, {"smm", smm}, {"loss", loss}})
      c.b.output(n, v);
    struct Tol {
      const char *name;
      float atol, rtol;
    };
    const Tol tols[] = {{"y", 1e-5f, 1e-5f},
                        {"sm", 1e-7f, 1e-5f},
                        {"smm", 1e-7f, 1e-5f},
                        {"loss", 1e-6f, 1e-5f}};
    std::map<std::string, std::map<std::string, HostTensor>> byVariant;
    for (const char *variant : {"0", "1"}) {
      SCOPED_TRACE(std::string("GPT_VK_SUBGROUPS=") + variant);
      ScopedEnv env("GPT_VK_SUBGROUPS", variant);
      ParityResult r = c.run();
      for (const Tol &t : tols)
        expectOut(r, t.name, t.atol, t.rtol);
      auto again = c.runVulkan();
      for (const Tol &t : tols)
        EXPECT_EQ(r.vk.at(t.name).f32, again.at(t.name).f32)
            << t.name << " not deterministic";
      byVariant[variant] = r.vk;
    }
    for (const Tol &t : tols)
      expectClose(byVariant["0"].at(t.name), byVariant["1"].at(t.name), t.atol,
                  t.rtol, std::string(t.name) + ": sg vs shared");
  }
}

// Rows that are entirely -inf (masked logits, causal_mask's "-inf" fill).
// The shaders never compute with inf (a driver may assume there is none;
// see NEG_BIG in shaders/common.glsl): an all -inf softmax row is zeros
// where the CPU computes exp(-inf - -inf) = NaN, and cross_entropy treats
// an all -inf row as ignored, i.e. like the CPU with that target set to -1.
// Other rows, partly -inf, match the CPU with the usual tolerances. Both
// variants (subgroup and shared memory).
TEST(VulkanNormLoss, FullyMaskedRows) {
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t D : {int64_t(5), int64_t(300)}) {
    SCOPED_TRACE("D " + std::to_string(D));
    const int64_t rows = 4;
    Buf x = randn({rows, D}, 50, 3.0f);
    for (int64_t j = 0; j < D; ++j) {
      x.f[1 * D + j] = -inf; // row 1: all masked
      if (j % 2 == 0)
        x.f[2 * D + j] = -inf; // row 2: every other element masked
    }
    Buf xs = randn({2, D, 3}, 51, 3.0f); // softmax along axis 1 (strided)
    for (int64_t j = 0; j < D; ++j)
      xs.f[j * 3 + 1] = -inf; // line (0, 1): all masked
    std::vector<int32_t> tg = {1, 2, 3, -1}, tgRef = {1, -1, 3, -1};
    for (const char *variant : {"0", "1"}) {
      SCOPED_TRACE(std::string("GPT_VK_SUBGROUPS=") + variant);
      ScopedEnv env("GPT_VK_SUBGROUPS", variant);
      auto build = [&](const std::vector<int32_t> &targets) {
        Case c;
        int xi = c.in("x", x, {-1, D}), xsi = c.in("xs", xs, {2, D, 3});
        int t = c.in("targets", ints({rows}, targets), {-1});
        int dloss = c.in("dloss", scalar(0.5f), std::vector<int64_t>{});
        int sm = c.b.temp({-1, D}), ss = c.b.temp({2, D, 3});
        int loss = c.b.temp({}), dl = c.b.temp({-1, D});
        c.b.kernel("softmax", {xi}, {sm}, {{"axis", -1}});
        c.b.kernel("softmax", {xsi}, {ss}, {{"axis", 1}});
        c.b.kernel("cross_entropy", {xi, t, -1}, {loss});
        c.b.kernel("cross_entropy_grad", {dloss, xi, t, -1}, {dl});
        for (auto [n, v] :
             {std::pair{"sm", sm}, {"ss", ss}, {"loss", loss}, {"dlogits", dl}})
          c.b.output(n, v);
        return c;
      };
      Case masked = build(tg), ref = build(tgRef);
      auto vk = masked.runVulkan();
      ParityResult r = ref.run(); // CPU with row 1 ignored, finite results
      // softmax: row 1 (and strided line (0, 1)) zeros, the rest as the CPU.
      const auto &sm = vk.at("sm").f32, &ss = vk.at("ss").f32;
      const auto &cpuSm = r.cpu.at("sm").f32, &cpuSs = r.cpu.at("ss").f32;
      for (int64_t i = 0; i < rows * D; ++i) {
        if (i / D == 1)
          ASSERT_EQ(sm[i], 0.0f) << i;
        else
          ASSERT_NEAR(sm[i], cpuSm[i], 1e-7f + 1e-5f * std::fabs(cpuSm[i]))
              << i;
      }
      for (int64_t i = 0; i < 2 * D * 3; ++i) {
        if (i < D * 3 && i % 3 == 1)
          ASSERT_EQ(ss[i], 0.0f) << i;
        else
          ASSERT_NEAR(ss[i], cpuSs[i], 1e-7f + 1e-5f * std::fabs(cpuSs[i]))
              << i;
      }
      expectClose(r.cpu.at("loss"), vk.at("loss"), 1e-6f, 1e-5f, "loss");
      expectClose(r.cpu.at("dlogits"), vk.at("dlogits"), 1e-8f, 1e-5f,
                  "dlogits");
    }
  }
}
