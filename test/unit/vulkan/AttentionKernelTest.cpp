//===- AttentionKernelTest.cpp --------------------------------------------===//
//
// The attention family on Vulkan against the CPU executor: attention and
// attention_qkv (causal with S == T and S > T, non-causal, lse optional),
// attention_grad and attention_qkv_grad (each gradient optional) and
// paged_attention (decode and prefill through a shuffled block table, plus
// the host-side block table checks). Shapes are small (lavapipe is slow)
// but cover several query/key tiles, partial tiles, B > 1, odd head sizes
// and a head size that forces smaller tiles (Dh = 160).
//
// Tolerances: forward (o, lse) atol 1e-5 + rtol 1e-5: both sides do the
// same fp32 online softmax but sum in different orders and the CPU uses a
// polynomial exp; backward (dq, dk, dv) atol 1e-4 + rtol 1e-4: sums over
// up to S products of recomputed probabilities, and the Vulkan backward
// starts from the Vulkan forward's o and lse.
#include "vulkan/Parity.h"

#include <algorithm>
#include <random>

using namespace gpt;
using namespace gpt::test;

namespace {

constexpr float kFwdAtol = 1e-5f, kFwdRtol = 1e-5f;
constexpr float kBwdAtol = 1e-4f, kBwdRtol = 1e-4f;

using Case = KernelCase;

struct Dims {
  int64_t B, T, S, H, Dh;
  bool causal;
};

std::string describe(const Dims &d) {
  return "B" + std::to_string(d.B) + " T" + std::to_string(d.T) + " S" +
         std::to_string(d.S) + " H" + std::to_string(d.H) + " Dh" +
         std::to_string(d.Dh) + (d.causal ? " causal" : " full");
}

json attrsOf(const Dims &d) {
  return {{"num_heads", d.H},
          {"scale", 1.0 / std::sqrt(double(d.Dh))},
          {"causal", d.causal}};
}

/// [B, T, 3D] rows of q | k | v.
Buf packQkv(const Buf &q, const Buf &k, const Buf &v, int64_t D) {
  Buf qkv;
  qkv.shape = {q.shape[0], q.shape[1], 3 * D};
  for (size_t r = 0; r < q.f.size() / D; ++r)
    for (const Buf *part : {&q, &k, &v})
      qkv.f.insert(qkv.f.end(), part->f.begin() + r * D,
                   part->f.begin() + (r + 1) * D);
  return qkv;
}

void expectOutput(const ParityResult &r, const std::string &name, float atol,
                  float rtol, const std::string &what) {
  ASSERT_TRUE(r.cpu.count(name)) << name;
  ASSERT_TRUE(r.vk.count(name)) << "vulkan lacks " << name;
  expectClose(r.cpu.at(name), r.vk.at(name), atol, rtol, what + " " + name);
}

class AttentionParity : public ::testing::TestWithParam<Dims> {};
class PackedAttentionParity : public ::testing::TestWithParam<Dims> {};

// attention then attention_grad on separate q, k, v.
TEST_P(AttentionParity, SeparateForwardAndGrad) {
  const Dims d = GetParam();
  const int64_t D = d.H * d.Dh;
  Case c;
  int q = c.in("q", randn({d.B, d.T, D}, 1));
  int k = c.in("k", randn({d.B, d.S, D}, 2));
  int v = c.in("v", randn({d.B, d.S, D}, 3));
  int dO = c.in("do", randn({d.B, d.T, D}, 4));
  int o = c.b.temp({d.B, d.T, D}), lse = c.b.temp({d.B, d.H, d.T});
  int dq = c.b.temp({d.B, d.T, D}), dk = c.b.temp({d.B, d.S, D}),
      dv = c.b.temp({d.B, d.S, D});
  c.b.kernel("attention", {q, k, v}, {o, lse}, attrsOf(d));
  c.b.kernel("attention_grad", {dO, q, k, v, o, lse}, {dq, dk, dv}, attrsOf(d));
  for (auto [n, id] :
       {std::pair{"o", o}, {"lse", lse}, {"dq", dq}, {"dk", dk}, {"dv", dv}})
    c.b.output(n, id);
  ParityResult r = runBoth(c.b, c.bufs);
  std::string what = describe(d);
  expectOutput(r, "o", kFwdAtol, kFwdRtol, what);
  expectOutput(r, "lse", kFwdAtol, kFwdRtol, what);
  for (const char *g : {"dq", "dk", "dv"})
    expectOutput(r, g, kBwdAtol, kBwdRtol, what);
}

// attention_qkv then attention_qkv_grad (packed; S == T only).
TEST_P(PackedAttentionParity, ForwardAndGrad) {
  const Dims d = GetParam();
  const int64_t D = d.H * d.Dh;
  Case c;
  Buf qkvBuf = packQkv(randn({d.B, d.T, D}, 5), randn({d.B, d.T, D}, 6),
                       randn({d.B, d.T, D}, 7), D);
  int qkv = c.in("qkv", std::move(qkvBuf));
  int dO = c.in("do", randn({d.B, d.T, D}, 8));
  int o = c.b.temp({d.B, d.T, D}), lse = c.b.temp({d.B, d.H, d.T});
  int dqkv = c.b.temp({d.B, d.T, 3 * D});
  c.b.kernel("attention_qkv", {qkv}, {o, lse}, attrsOf(d));
  c.b.kernel("attention_qkv_grad", {dO, qkv, o, lse}, {dqkv}, attrsOf(d));
  for (auto [n, id] : {std::pair{"o", o}, {"lse", lse}, {"dqkv", dqkv}})
    c.b.output(n, id);
  ParityResult r = runBoth(c.b, c.bufs);
  std::string what = describe(d) + " packed";
  expectOutput(r, "o", kFwdAtol, kFwdRtol, what);
  expectOutput(r, "lse", kFwdAtol, kFwdRtol, what);
  expectOutput(r, "dqkv", kBwdAtol, kBwdRtol, what);
}

INSTANTIATE_TEST_SUITE_P(
    Vulkan, AttentionParity,
    ::testing::Values(
        // training shape: several 32-row tiles, the last partial
        Dims{2, 37, 37, 2, 8, true},
        // GPT-2 head size
        Dims{2, 40, 40, 2, 64, true},
        // odd head size, one head
        Dims{1, 9, 9, 1, 5, true},
        // head size that forces 12-row (forward) and 6-row tiles
        Dims{1, 20, 20, 1, 160, true},
        // k/v longer than q: causal (decode-like offset) and non-causal
        Dims{2, 13, 45, 3, 8, true}, Dims{2, 13, 45, 3, 8, false},
        Dims{1, 1, 33, 2, 16, true},
        // non-causal, S == T
        Dims{2, 35, 35, 2, 16, false}));

INSTANTIATE_TEST_SUITE_P(Vulkan, PackedAttentionParity,
                         ::testing::Values(Dims{2, 37, 37, 2, 8, true},
                                           Dims{2, 40, 40, 2, 64, true},
                                           Dims{1, 9, 9, 1, 5, true},
                                           Dims{1, 20, 20, 1, 160, true},
                                           Dims{2, 35, 35, 2, 16, false}));

// Optional results: no lse in the forward, one gradient at a time.
TEST(AttentionVulkan, OptionalResults) {
  const Dims d{2, 19, 19, 2, 8, true};
  const int64_t D = d.H * d.Dh;
  Case c;
  int q = c.in("q", randn({d.B, d.T, D}, 11));
  int k = c.in("k", randn({d.B, d.S, D}, 12));
  int v = c.in("v", randn({d.B, d.S, D}, 13));
  int dO = c.in("do", randn({d.B, d.T, D}, 14));
  int o1 = c.b.temp({d.B, d.T, D});
  c.b.kernel("attention", {q, k, v}, {o1, -1}, attrsOf(d));
  int o = c.b.temp({d.B, d.T, D}), lse = c.b.temp({d.B, d.H, d.T});
  c.b.kernel("attention", {q, k, v}, {o, lse}, attrsOf(d));
  int dk = c.b.temp({d.B, d.S, D});
  c.b.kernel("attention_grad", {dO, q, k, v, o, lse}, {-1, dk, -1}, attrsOf(d));
  int dq = c.b.temp({d.B, d.T, D}), dv = c.b.temp({d.B, d.S, D});
  c.b.kernel("attention_grad", {dO, q, k, v, o, lse}, {dq, -1, dv}, attrsOf(d));
  for (auto [n, id] : {std::pair{"o1", o1}, {"dq", dq}, {"dk", dk}, {"dv", dv}})
    c.b.output(n, id);
  ParityResult r = runBoth(c.b, c.bufs);
  expectOutput(r, "o1", kFwdAtol, kFwdRtol, "no lse");
  for (const char *g : {"dq", "dk", "dv"})
    expectOutput(r, g, kBwdAtol, kBwdRtol, "optional grads");
}

// Same inputs, same bits: no float atomics anywhere.
TEST(AttentionVulkan, BackwardIsDeterministic) {
  const Dims d{2, 37, 37, 2, 16, true};
  const int64_t D = d.H * d.Dh;
  Case c;
  int q = c.in("q", randn({d.B, d.T, D}, 21));
  int k = c.in("k", randn({d.B, d.S, D}, 22));
  int v = c.in("v", randn({d.B, d.S, D}, 23));
  int dO = c.in("do", randn({d.B, d.T, D}, 24));
  int o = c.b.temp({d.B, d.T, D}), lse = c.b.temp({d.B, d.H, d.T});
  int dq = c.b.temp({d.B, d.T, D}), dk = c.b.temp({d.B, d.S, D}),
      dv = c.b.temp({d.B, d.S, D});
  c.b.kernel("attention", {q, k, v}, {o, lse}, attrsOf(d));
  c.b.kernel("attention_grad", {dO, q, k, v, o, lse}, {dq, dk, dv}, attrsOf(d));
  for (auto [n, id] : {std::pair{"dq", dq}, {"dk", dk}, {"dv", dv}})
    c.b.output(n, id);
  VulkanExecutor vk(vulkanArtifactOf(c.b), testVulkanOptions());
  std::map<std::string, TensorView> views;
  for (auto &kv : c.bufs)
    views[kv.first] = kv.second.view();
  auto first = vk.run(c.b.name, views);
  auto second = vk.run(c.b.name, views);
  for (const char *g : {"dq", "dk", "dv"})
    EXPECT_EQ(first.at(g).f32, second.at(g).f32) << g;
  EXPECT_EQ(vk.validationMessages(), 0) << vk.lastValidationMessage();
}

// --- paged_attention --------------------------------------------------------

struct PagedDims {
  int64_t B, T, H, Dh, BS, NB;
  std::vector<int32_t> start;
};

/// Distinct, shuffled blocks of a pool of N for each sequence.
std::vector<int32_t> shuffledTable(int64_t B, int64_t NB, int64_t N,
                                   uint32_t seed) {
  std::vector<int32_t> ids(N);
  for (int64_t i = 0; i < N; ++i)
    ids[i] = static_cast<int32_t>(i);
  std::mt19937 rng(seed);
  std::shuffle(ids.begin(), ids.end(), rng);
  return std::vector<int32_t>(ids.begin(), ids.begin() + B * NB);
}

Case pagedCase(const PagedDims &s, int64_t N, std::vector<int32_t> table) {
  const int64_t D = s.H * s.Dh;
  Case c;
  int q = c.in("q", randn({s.B, s.T, D}, 31));
  int kc = c.in("k_cache", randn({N, s.BS, D}, 32));
  int vc = c.in("v_cache", randn({N, s.BS, D}, 33));
  int tb = c.in("block_table", ints({s.B, s.NB}, std::move(table)));
  int st = c.in("start", ints({s.B}, s.start));
  int o = c.b.temp({s.B, s.T, D});
  c.b.kernel("paged_attention", {q, kc, vc, tb, st}, {o},
             {{"num_heads", s.H}, {"scale", 1.0 / std::sqrt(double(s.Dh))}});
  c.b.output("o", o);
  return c;
}

class PagedAttentionParity : public ::testing::TestWithParam<PagedDims> {};

// Tolerance: forward's (atol 1e-5 + rtol 1e-5).
TEST_P(PagedAttentionParity, MatchesCpu) {
  const PagedDims &s = GetParam();
  const int64_t N = s.B * s.NB + 3;
  Case c = pagedCase(s, N, shuffledTable(s.B, s.NB, N, 8));
  ParityResult r = runBoth(c.b, c.bufs);
  expectOutput(r, "o", kFwdAtol, kFwdRtol, "paged");
}

INSTANTIATE_TEST_SUITE_P(
    Vulkan, PagedAttentionParity,
    ::testing::Values(
        // decode: one query per sequence at various depths
        PagedDims{3, 1, 2, 4, 4, 4, {0, 5, 15}},
        // prefill of a whole prompt, two query tiles, partial last block
        PagedDims{1, 37, 3, 8, 4, 10, {0}},
        // a chunk of a prompt after cached positions
        PagedDims{2, 9, 2, 16, 16, 2, {7, 16}},
        // GPT-2 head size, block size 1, decode across several key tiles
        PagedDims{2, 3, 1, 64, 1, 70, {4, 66}},
        // split-K decode (NB * BS > 8 key tiles): splits past a short
        // sequence's context are empty
        PagedDims{2, 1, 2, 64, 16, 40, {300, 620}},
        PagedDims{3, 5, 2, 8, 8, 80, {0, 500, 255}}));

// The host checks the block table like the CPU kernel, with its wording,
// also when a call replays the recorded command buffer.
TEST(PagedAttentionVulkan, BadBlockTableIsAnError) {
  PagedDims s{1, 1, 2, 2, 2, 3, {5}};
  Case c = pagedCase(s, 4, {0, 3, 1});
  VulkanExecutor vk(vulkanArtifactOf(c.b), testVulkanOptions());
  auto error = [&]() -> std::string {
    std::map<std::string, TensorView> views;
    for (auto &kv : c.bufs)
      views[kv.first] = kv.second.view();
    try {
      vk.run(c.b.name, views);
    } catch (const ExecutorError &e) {
      return e.what();
    }
    return "<no error>";
  };
  EXPECT_EQ(error(), "<no error>"); // recorded; the calls below replay
  c.bufs["start"].i[0] = 2;
  c.bufs["block_table"].i[1] = 9;
  std::string err = error();
  EXPECT_NE(err.find("paged_attention"), std::string::npos) << err;
  EXPECT_NE(err.find("sequence 0: block_table[1] = 9 is outside the pool "
                     "[0, 4)"),
            std::string::npos)
      << err;
  c.bufs["block_table"].i[1] = 3;
  c.bufs["start"].i[0] = 6; // position 6 >= NB * BS
  err = error();
  EXPECT_NE(err.find("sequence 0: position 6 does not fit the block table "
                     "(3 x 2 positions)"),
            std::string::npos)
      << err;
  c.bufs["start"].i[0] = -1;
  err = error();
  EXPECT_NE(err.find("sequence 0: start -1 is negative"), std::string::npos)
      << err;
  c.bufs["start"].i[0] = 5;
  EXPECT_EQ(error(), "<no error>");
  EXPECT_EQ(vk.validationMessages(), 0) << vk.lastValidationMessage();
}

} // namespace
