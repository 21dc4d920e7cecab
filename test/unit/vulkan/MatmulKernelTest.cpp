//===- MatmulKernelTest.cpp -----------------------------------------------===//
//
// linear, linear_weight_grad and matmul on Vulkan against the CPU executor,
// through every shader path (GPT_VK_MATMUL forces one: small = 64 x 64
// tiles, big = 128 x 128, rows = the decode path), with ragged edges, odd K
// (scalar loads), K % 4 == 0 (vec4 loads) and a misaligned operand.
//
// Tolerance: the summation order differs from the CPU's (tiles, vec4 dots,
// tree reductions), so errors grow with K: for unit-normal inputs an output
// is ~sqrt(K) in size and fp32 rounding of a K-term sum is ~1e-7 * K in the
// worst case; atol = 1e-6 * K and rtol = 1e-5 leave a few-fold margin.
#include "vulkan/Parity.h"

#include <cmath>
#include <cstdlib>

using namespace gpt;
using namespace gpt::test;

namespace {

using Case = KernelCase;

float atolFor(int64_t K) { return 1e-6f * float(std::max<int64_t>(K, 16)); }

struct LinearCase {
  int64_t B, T, K, N;
  bool tw, bias;
  std::string path;
};

std::string nameOf(const ::testing::TestParamInfo<LinearCase> &info) {
  const LinearCase &p = info.param;
  return "B" + std::to_string(p.B) + "T" + std::to_string(p.T) + "K" +
         std::to_string(p.K) + "N" + std::to_string(p.N) + (p.tw ? "_tw" : "") +
         (p.bias ? "_bias" : "") + (p.path.empty() ? "" : "_" + p.path);
}

void PrintTo(const LinearCase &p, std::ostream *os) {
  *os << "B=" << p.B << " T=" << p.T << " K=" << p.K << " N=" << p.N
      << " tw=" << p.tw << " bias=" << p.bias << " path=" << p.path;
}

class VulkanLinear : public ::testing::TestWithParam<LinearCase> {};

} // namespace

TEST_P(VulkanLinear, ForwardAndWeightGrad) {
  const LinearCase &p = GetParam();
  ScopedEnv force("GPT_VK_MATMUL", p.path); // "" = automatic
  Case c;
  int x = c.in("x", randn({p.B, p.T, p.K}, 1), {-1, -2, p.K});
  int w = c.in("w", randn(p.tw ? std::vector<int64_t>{p.N, p.K}
                               : std::vector<int64_t>{p.K, p.N},
                          2));
  int bi = p.bias ? c.in("bias", randn({p.N}, 3)) : -1;
  int dy = c.in("dy", randn({p.B, p.T, p.N}, 4), {-1, -2, p.N});
  int y = c.b.temp({-1, -2, p.N});
  int dw = c.b.temp({p.tw ? p.N : p.K, p.tw ? p.K : p.N});
  c.b.kernel("linear", {x, w, bi}, {y}, {{"transpose_weight", p.tw}});
  c.b.kernel("linear_weight_grad", {x, dy}, {dw}, {{"transpose_weight", p.tw}});
  c.b.output("y", y);
  c.b.output("dw", dw);
  ParityResult r = c.run();
  // y sums K products; dw sums B*T products.
  expectClose(r.cpu["y"], r.vk["y"], atolFor(p.K), 1e-5f, "y");
  expectClose(r.cpu["dw"], r.vk["dw"], atolFor(p.B * p.T), 1e-5f, "dw");
}

INSTANTIATE_TEST_SUITE_P(
    Paths, VulkanLinear,
    ::testing::Values(
        // Decode: few rows (the rows path by default), both layouts.
        LinearCase{1, 1, 64, 130, false, true, ""},
        LinearCase{3, 1, 64, 130, true, true, ""},
        LinearCase{2, 4, 45, 70, true, false, ""},
        LinearCase{2, 3, 45, 70, false, false, ""},
        // Decode with K split into slices (few column blocks).
        LinearCase{2, 1, 200, 70, false, true, ""},
        LinearCase{1, 1, 520, 130, false, false, ""},
        // Tiled, ragged in M, N and K.
        LinearCase{2, 37, 45, 70, false, true, "small"},
        LinearCase{2, 37, 45, 70, true, true, "small"},
        LinearCase{2, 37, 64, 72, false, false, "small"},
        LinearCase{2, 37, 64, 72, true, true, "small"},
        LinearCase{2, 37, 45, 70, false, true, "big"},
        LinearCase{3, 50, 68, 136, true, false, "big"},
        LinearCase{3, 50, 68, 136, false, true, "big"},
        // Few rows through the tiles and many rows by default.
        LinearCase{1, 5, 33, 20, true, true, "small"},
        LinearCase{4, 20, 24, 40, false, true, ""}),
    nameOf);

namespace {

struct MatmulCase {
  bool tl, tr, bBatched;
  std::string path;
};

void PrintTo(const MatmulCase &p, std::ostream *os) {
  *os << "tl=" << p.tl << " tr=" << p.tr << " bBatched=" << p.bBatched
      << " path=" << p.path;
}

class VulkanMatmul : public ::testing::TestWithParam<MatmulCase> {};

} // namespace

TEST_P(VulkanMatmul, Batched) {
  const MatmulCase &p = GetParam();
  ScopedEnv force("GPT_VK_MATMUL", p.path); // "" = automatic
  const int64_t M = 19, K = 21, N = 70;
  Case c;
  std::vector<int64_t> as = p.tl ? std::vector<int64_t>{2, 3, K, M}
                                 : std::vector<int64_t>{2, 3, M, K};
  std::vector<int64_t> bs =
      p.tr ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N};
  if (p.bBatched)
    bs.insert(bs.begin(), {2, 3});
  int a = c.in("a", randn(as, 5));
  int bb = c.in("b", randn(bs, 6));
  int y = c.b.temp({2, 3, M, N});
  c.b.kernel("matmul", {a, bb}, {y},
             {{"transpose_lhs", p.tl}, {"transpose_rhs", p.tr}});
  c.b.output("c", y);
  expectParity(c.run(), atolFor(K), 1e-5f);
}

INSTANTIATE_TEST_SUITE_P(
    Paths, VulkanMatmul,
    ::testing::Values(
        MatmulCase{false, false, true, ""}, MatmulCase{false, true, true, ""},
        MatmulCase{true, false, true, ""}, MatmulCase{true, true, true, ""},
        MatmulCase{false, false, false, ""}, MatmulCase{true, true, false, ""},
        MatmulCase{false, true, false, "big"},
        MatmulCase{true, false, true, "big"}),
    [](const ::testing::TestParamInfo<MatmulCase> &info) {
      const MatmulCase &p = info.param;
      return std::string(p.tl ? "tl" : "nl") + (p.tr ? "_tr" : "_nr") +
             (p.bBatched ? "_batched" : "_2d") +
             (p.path.empty() ? "" : "_" + p.path);
    });

// Operands at addresses that are not 16-byte aligned (token-arena values
// after a 1-float-per-token value, B*T odd): the vec4 loads must fall back.
TEST(VulkanMatmulAlign, MisalignedOperands) {
  for (const char *path : {"small", "rows"}) {
    ScopedEnv force("GPT_VK_MATMUL", path); // "" = automatic
    Case c;
    const int64_t B = 1, T = path[0] == 'r' ? 3 : 37, K = 64, N = 68;
    int x = c.in("x", randn({B, T, K}, 7), {-1, -2, K});
    int w = c.in("w", randn({N, K}, 8));
    int pad = c.b.temp({-1, -2, 1});
    int xs = c.b.temp({-1, -2, K});
    int y = c.b.temp({-1, -2, N});
    c.b.kernel("fill", {}, {pad}, {{"value", 1.0}});
    c.b.kernel("copy", {x}, {xs});
    c.b.kernel("linear", {xs, w, -1}, {y}, {{"transpose_weight", true}});
    c.b.output("y", y);
    c.b.output("pad", pad);
    expectParity(c.run(), atolFor(K), 1e-5f);
  }
}

TEST(VulkanMatmulAlign, SingleRowWeightGrad) {
  // linear_weight_grad over one row (K of the product = 1).
  Case c;
  int x = c.in("x", randn({1, 1, 5}, 9), {-1, -2, 5});
  int dy = c.in("dy", randn({1, 1, 3}, 10), {-1, -2, 3});
  int dw = c.b.temp({5, 3});
  c.b.kernel("linear_weight_grad", {x, dy}, {dw});
  c.b.output("dw", dw);
  expectParity(c.run(), 1e-6f, 1e-6f);
}

// The decode path with W [N, K] has a subgroup-arithmetic variant
// (linear_rows_t_sg, picked when the device has subgroup arithmetic;
// lavapipe: size 8) and the shared-memory fallback (GPT_VK_SUBGROUPS=0):
// both against the CPU (same tolerance as above), each bitwise equal from
// run to run (a second executor records and runs it again), and the two
// variants within the tolerance of each other.
TEST(VulkanLinearSubgroups, BothVariantsAndDeterminism) {
  struct Shape {
    int64_t M, K, N;
    bool bias;
  };
  // K % 4 == 0 (vec4) and odd K (scalar), N not a multiple of 8, M up to 8,
  // K longer than a workgroup's lanes (strided k loop).
  for (Shape s : {Shape{1, 64, 130, true}, Shape{3, 45, 70, false},
                  Shape{8, 520, 19, true}, Shape{5, 1001, 9, false}}) {
    SCOPED_TRACE("M " + std::to_string(s.M) + " K " + std::to_string(s.K) +
                 " N " + std::to_string(s.N));
    Case c;
    int x = c.in("x", randn({s.M, 1, s.K}, 11), {-1, -2, s.K});
    int w = c.in("w", randn({s.N, s.K}, 12));
    int bi = s.bias ? c.in("bias", randn({s.N}, 13)) : -1;
    int y = c.b.temp({-1, -2, s.N});
    c.b.kernel("linear", {x, w, bi}, {y}, {{"transpose_weight", true}});
    c.b.output("y", y);
    std::map<std::string, std::vector<float>> byVariant;
    for (const char *variant : {"0", "1"}) {
      SCOPED_TRACE(std::string("GPT_VK_SUBGROUPS=") + variant);
      ScopedEnv env("GPT_VK_SUBGROUPS", variant);
      ParityResult r = c.run();
      expectClose(r.cpu["y"], r.vk["y"], atolFor(s.K), 1e-5f, "y");
      auto again = c.runVulkan();
      EXPECT_EQ(r.vk.at("y").f32, again.at("y").f32) << "not deterministic";
      byVariant[variant] = r.vk.at("y").f32;
    }
    expectClose(byVariant["0"], byVariant["1"], atolFor(s.K), 1e-5f,
                "subgroup vs shared-memory variant");
  }
}

// The tensor-core GEMM (matmul_coopmat*.comp: fp16 inputs, fp32
// accumulation) on devices that offer VK_NV_cooperative_matrix 16x16x16
// fp16 with 32-thread subgroups; lavapipe has none, so there it only checks
// that forcing it is a clear error. Both tile sizes, ragged M, N and K
// (K not a multiple of the 32-wide slice), both weight layouts, bias, and
// the batched matmul with transposes.
//
// Tolerance: each operand is rounded to fp16 (relative error <= 2^-11), so
// a product's error is <= ~2^-10 * sum_k |a_k b_k|; for unit normals
// sum |a b| ~ 0.64 K, so atol = 1e-3 * K (plus the fp32 bound) and
// rtol = 2e-3 hold with margin. Results must also be bitwise equal from run
// to run (fixed-order accumulation on every device).
namespace {

bool deviceHasCoopmat() {
  KernelCase probe;
  int x = probe.in("x", randn({1, 1, 4}, 1), {-1, -2, 4});
  int y = probe.b.temp({-1, -2, 4});
  probe.b.kernel("copy", {x}, {y});
  probe.b.output("y", y);
  VulkanExecutor vk(vulkanArtifactOf(probe.b), testVulkanOptions());
  return vk.device().coopmatUsable;
}

float coopmatAtol(int64_t K) { return 1e-3f * float(K) + atolFor(K); }

} // namespace

TEST(VulkanCoopmat, LinearAndMatmulAgainstCpu) {
  if (!deviceHasCoopmat()) {
    ScopedEnv force("GPT_VK_MATMUL", "coopmat");
    Case c;
    int x = c.in("x", randn({1, 40, 64}, 1), {-1, -2, 64});
    int w = c.in("w", randn({64, 64}, 2));
    int y = c.b.temp({-1, -2, 64});
    c.b.kernel("linear", {x, w, -1}, {y});
    c.b.output("y", y);
    EXPECT_NE(c.vkError().find("no usable cooperative matrices"),
              std::string::npos)
        << c.vkError();
    GTEST_SKIP() << "no cooperative-matrix device: checked the forced-path "
                    "error only";
  }
  struct Shape {
    int64_t B, T, K, N;
    bool tw, bias;
    const char *path;
  };
  for (Shape s : {Shape{2, 150, 100, 200, true, true, "coopmat"},
                  Shape{1, 300, 768, 260, false, false, "coopmat"},
                  Shape{2, 37, 45, 70, true, false, "coopmat_small"},
                  Shape{3, 50, 68, 136, false, true, "coopmat_small"},
                  Shape{4, 64, 256, 512, true, true, ""}}) {
    SCOPED_TRACE("B " + std::to_string(s.B) + " T " + std::to_string(s.T) +
                 " K " + std::to_string(s.K) + " N " + std::to_string(s.N) +
                 " path " + s.path);
    ScopedEnv force("GPT_VK_MATMUL", s.path); // "" = automatic (inference)
    Case c;
    int x = c.in("x", randn({s.B, s.T, s.K}, 1), {-1, -2, s.K});
    int w = c.in("w", randn(s.tw ? std::vector<int64_t>{s.N, s.K}
                                 : std::vector<int64_t>{s.K, s.N},
                            2));
    int bi = s.bias ? c.in("bias", randn({s.N}, 3)) : -1;
    int y = c.b.temp({-1, -2, s.N});
    c.b.kernel("linear", {x, w, bi}, {y}, {{"transpose_weight", s.tw}});
    c.b.output("y", y);
    ParityResult r = c.run();
    expectClose(r.cpu["y"], r.vk["y"], coopmatAtol(s.K), 2e-3f, "y");
    EXPECT_EQ(r.vk.at("y").f32, c.runVulkan().at("y").f32)
        << "not deterministic";
  }
  for (bool tl : {false, true})
    for (bool tr : {false, true}) {
      SCOPED_TRACE(std::string("matmul tl ") + (tl ? "1" : "0") + " tr " +
                   (tr ? "1" : "0"));
      ScopedEnv force("GPT_VK_MATMUL", "coopmat_small");
      const int64_t M = 70, K = 90, N = 50;
      Case c;
      int a = c.in("a", randn(tl ? std::vector<int64_t>{2, 3, K, M}
                                 : std::vector<int64_t>{2, 3, M, K},
                              5));
      int bb = c.in("b", randn(tr ? std::vector<int64_t>{2, 3, N, K}
                                  : std::vector<int64_t>{2, 3, K, N},
                               6));
      int y = c.b.temp({2, 3, M, N});
      c.b.kernel("matmul", {a, bb}, {y},
                 {{"transpose_lhs", tl}, {"transpose_rhs", tr}});
      c.b.output("c", y);
      expectParity(c.run(), coopmatAtol(K), 2e-3f);
    }
}
