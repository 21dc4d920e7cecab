//===- PagedTest.cpp ------------------------------------------------------===//
//
// The generation kernels (docs/artifact.md, "Generation functions"):
// position_embedding with a start offset, kv_cache_write, paged_attention,
// take_last, against naive double-precision references; binding of the KV
// pool size N (-3) and the runtime errors of a bad block table.
#include "Builder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

using namespace gpt;
using namespace gpt::test;

namespace {

struct Case : CaseInputs {
  std::map<std::string, HostTensor> run(int threads = 3) {
    CpuExecutor ex(artifactOf(b), threads);
    return ex.run("f", views());
  }
  std::string error(int threads = 3) {
    try {
      run(threads);
    } catch (const ExecutorError &e) {
      return e.what();
    } catch (const ArtifactError &e) {
      return e.what();
    }
    return "<no error>";
  }
};

/// A block table [B, NB] that gives each sequence distinct, shuffled blocks
/// of a pool of N (N >= B * NB).
std::vector<int32_t> shuffledTable(int64_t B, int64_t NB, int64_t N,
                                   uint32_t seed) {
  std::vector<int32_t> ids(N);
  for (int64_t i = 0; i < N; ++i)
    ids[i] = static_cast<int32_t>(i);
  std::mt19937 rng(seed);
  std::shuffle(ids.begin(), ids.end(), rng);
  return std::vector<int32_t>(ids.begin(), ids.begin() + B * NB);
}

/// The row of position p of sequence b in a pool [N, BS, D].
int64_t poolRow(const std::vector<int32_t> &table, int64_t NB, int64_t BS,
                int64_t b, int64_t p) {
  return int64_t(table[b * NB + p / BS]) * BS + p % BS;
}

} // namespace

TEST(Paged, PositionEmbeddingWithStart) {
  const int64_t B = 3, T = 4, C = 10, D = 5;
  Case c;
  int table = c.in("table", randn({C, D}, 1));
  int ids =
      c.in("tokens", ints({B, T}, std::vector<int32_t>(B * T, 0)), {-1, -2});
  int start = c.in("start", ints({B}, {0, 3, 6}), {-1});
  int y = c.b.temp({-1, -2, D});
  c.b.kernel("position_embedding", {table, ids, start}, {y});
  c.b.output("y", y);
  auto out = c.run();
  std::vector<double> want;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = 0; j < D; ++j)
        want.push_back(c.bufs["table"].f[(c.bufs["start"].i[b] + t) * D + j]);
  EXPECT_TRUE(near(out["y"].f32, want, 0, 0));
  // The last position 7 + 3 = 10 is past the table.
  c.bufs["start"].i[2] = 7;
  std::string err = c.error();
  EXPECT_NE(err.find("positions 7..10 exceed the context length 10"),
            std::string::npos)
      << err;
  c.bufs["start"].i[2] = -1;
  EXPECT_NE(c.error().find("exceed the context length"), std::string::npos);
}

TEST(Paged, KvCacheWrite) {
  const int64_t B = 2, T = 5, N = 7, BS = 4, D = 6, NB = 3;
  Case c;
  int cache = c.in("cache", randn({N, BS, D}, 2), {-3, BS, D}, "state");
  int x = c.in("new", randn({B, T, D}, 3), {-1, -2, D});
  std::vector<int32_t> tb = shuffledTable(B, NB, N, 4);
  int table = c.in("block_table", ints({B, NB}, tb), {-1, NB});
  int start = c.in("start", ints({B}, {0, 6}), {-1});
  int out = c.b.alias(cache, {-3, BS, D});
  c.b.kernel("kv_cache_write", {cache, x, table, start}, {out});
  c.b.output("cache", out, c.inputIndex(cache));
  std::vector<float> before = c.bufs["cache"].f;
  auto result = c.run();
  EXPECT_TRUE(result.empty()); // written in place
  std::vector<double> want(before.begin(), before.end());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      int64_t row = poolRow(tb, NB, BS, b, c.bufs["start"].i[b] + t);
      for (int64_t j = 0; j < D; ++j)
        want[row * D + j] = c.bufs["new"].f[(b * T + t) * D + j];
    }
  EXPECT_TRUE(near(c.bufs["cache"].f, want, 0, 0));

  // Position 8 + 4 = 12 >= NB * BS = 12.
  c.bufs["start"].i[1] = 8;
  std::string err = c.error();
  EXPECT_NE(err.find("sequence 1: position 12 does not fit the block table "
                     "(3 x 4 positions)"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("kv_cache_write"), std::string::npos) << err;
  c.bufs["start"].i[1] = 0;
  c.bufs["block_table"].i[1 * NB + 1] = N; // used by positions 4..7
  err = c.error();
  EXPECT_NE(err.find("sequence 1: block_table[1] = 7 is outside the pool "
                     "[0, 7)"),
            std::string::npos)
      << err;
  c.bufs["block_table"].i[1 * NB + 1] = -2;
  EXPECT_NE(c.error().find("is outside the pool"), std::string::npos);
  // Entries past the last position are not read: anything goes.
  c.bufs["block_table"].i[1 * NB + 1] = 1;
  c.bufs["block_table"].i[1 * NB + 2] = 12345;
  EXPECT_EQ(c.error(), "<no error>");
  c.bufs["start"].i[0] = -1;
  EXPECT_NE(c.error().find("sequence 0: start -1 is negative"),
            std::string::npos);
}

struct PagedShape {
  int64_t B, T, H, Dh, BS, NB;
  std::vector<int32_t> start;
};

class PagedAttentionTest : public ::testing::TestWithParam<PagedShape> {};

TEST_P(PagedAttentionTest, MatchesNaive) {
  const PagedShape &s = GetParam();
  const int64_t D = s.H * s.Dh, N = s.B * s.NB + 3;
  const float scale = 1.0f / std::sqrt(float(s.Dh));
  Case c;
  int q = c.in("q", randn({s.B, s.T, D}, 5), {-1, -2, D});
  int kc = c.in("k_cache", randn({N, s.BS, D}, 6), {-3, s.BS, D}, "state");
  int vc = c.in("v_cache", randn({N, s.BS, D}, 7), {-3, s.BS, D}, "state");
  std::vector<int32_t> tb = shuffledTable(s.B, s.NB, N, 8);
  int table = c.in("block_table", ints({s.B, s.NB}, tb), {-1, s.NB});
  int start = c.in("start", ints({s.B}, s.start), {-1});
  int o = c.b.temp({-1, -2, D});
  c.b.kernel("paged_attention", {q, kc, vc, table, start}, {o},
             {{"num_heads", s.H}, {"scale", scale}});
  c.b.output("o", o);
  const Buf &Q = c.bufs["q"], &K = c.bufs["k_cache"], &V = c.bufs["v_cache"];
  std::vector<double> want(s.B * s.T * D);
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h)
      for (int64_t t = 0; t < s.T; ++t) {
        int64_t n = s.start[b] + t + 1; // visible positions
        std::vector<double> sc(n);
        double m = -1e300, sum = 0;
        const float *qr = &Q.f[(b * s.T + t) * D + h * s.Dh];
        for (int64_t p = 0; p < n; ++p) {
          const float *kr = &K.f[poolRow(tb, s.NB, s.BS, b, p) * D + h * s.Dh];
          double dot = 0;
          for (int64_t d = 0; d < s.Dh; ++d)
            dot += double(qr[d]) * kr[d];
          sc[p] = dot * scale;
          m = std::max(m, sc[p]);
        }
        for (double &x : sc)
          sum += (x = std::exp(x - m));
        for (int64_t d = 0; d < s.Dh; ++d) {
          double acc = 0;
          for (int64_t p = 0; p < n; ++p)
            acc +=
                sc[p] * V.f[poolRow(tb, s.NB, s.BS, b, p) * D + h * s.Dh + d];
          want[(b * s.T + t) * D + h * s.Dh + d] = acc / sum;
        }
      }
  for (int threads : {1, 4}) {
    auto out = c.run(threads);
    EXPECT_TRUE(near(out["o"].f32, want, 1e-5, 1e-4)) << threads << " threads";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PagedAttentionTest,
    ::testing::Values(
        // decode: one query per sequence at various depths
        PagedShape{3, 1, 2, 4, 4, 4, {0, 5, 15}},
        // prefill of a whole prompt, several tiles, partial last block
        PagedShape{1, 19, 3, 8, 4, 5, {0}},
        // a chunk of a prompt after cached positions
        PagedShape{2, 9, 2, 16, 16, 2, {7, 16}},
        // a larger head dim, block size 1
        PagedShape{2, 3, 1, 64, 1, 12, {4, 9}}));

TEST(Paged, AttentionBadBlockIsAnError) {
  const int64_t D = 4, BS = 2, NB = 3;
  Case c;
  int q = c.in("q", randn({1, 1, D}, 1), {-1, -2, D});
  int kc = c.in("k", randn({4, BS, D}, 2), {-3, BS, D}, "state");
  int vc = c.in("v", randn({4, BS, D}, 3), {-3, BS, D}, "state");
  int table = c.in("block_table", ints({1, NB}, {0, 9, 1}), {-1, NB});
  int start = c.in("start", ints({1}, {2}), {-1});
  int o = c.b.temp({-1, -2, D});
  c.b.kernel("paged_attention", {q, kc, vc, table, start}, {o},
             {{"num_heads", 2}, {"scale", 0.5}});
  c.b.output("o", o);
  std::string err = c.error();
  EXPECT_NE(err.find("paged_attention"), std::string::npos) << err;
  EXPECT_NE(err.find("block_table[1] = 9 is outside the pool [0, 4)"),
            std::string::npos)
      << err;
  c.bufs["block_table"].i[1] = 3;
  c.bufs["start"].i[0] = 6; // position 6 >= NB * BS
  EXPECT_NE(c.error().find("position 6 does not fit"), std::string::npos);
  c.bufs["start"].i[0] = 5;
  EXPECT_EQ(c.error(), "<no error>");
}

TEST(Paged, TakeLast) {
  const int64_t B = 3, T = 4, D = 5;
  Case c;
  int x = c.in("x", randn({B, T, D}, 9), {-1, -2, D});
  int y = c.b.temp({-1, D});
  c.b.kernel("take_last", {x}, {y});
  c.b.output("y", y);
  auto out = c.run();
  std::vector<double> want;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < D; ++j)
      want.push_back(c.bufs["x"].f[(b * T + T - 1) * D + j]);
  EXPECT_TRUE(near(out["y"].f32, want, 0, 0));
  EXPECT_EQ(out["y"].shape, (std::vector<int64_t>{B, D}));
}

/// Two caches with the -3 dim: N is bound from the first and must agree.
TEST(Paged, PoolSizeBinding) {
  const int64_t D = 4, BS = 2;
  auto make = [&](int64_t nk, int64_t nv) {
    auto c = std::make_unique<Case>();
    int q = c->in("q", randn({1, 1, D}, 1), {-1, -2, D});
    int kc = c->in("kv.0.k", randn({nk, BS, D}, 2), {-3, BS, D}, "state");
    int vc = c->in("kv.0.v", randn({nv, BS, D}, 3), {-3, BS, D}, "state");
    int table = c->in("block_table", ints({1, 2}, {0, 0}), {-1, 2});
    int start = c->in("start", ints({1}, {0}), {-1});
    int o = c->b.temp({-1, -2, D});
    c->b.kernel("paged_attention", {q, kc, vc, table, start}, {o},
                {{"num_heads", 1}, {"scale", 1.0}});
    c->b.output("o", o);
    return c;
  };
  EXPECT_EQ(make(3, 3)->error(), "<no error>");
  std::string err = make(3, 5)->error();
  EXPECT_NE(err.find("input 'kv.0.v': dim 0 of shape [5, 2, 4] is 5 but N = 3 "
                     "(from input 'kv.0.k')"),
            std::string::npos)
      << err;
  err = make(0, 0)->error();
  EXPECT_NE(err.find("input 'kv.0.k'"), std::string::npos) << err;
  EXPECT_NE(err.find("the KV pool size N must be >= 1"), std::string::npos)
      << err;
  // The same executor runs with different pool sizes.
  auto c = make(3, 3);
  CpuExecutor ex(artifactOf(c->b), 2);
  for (int64_t n : {3, 6, 2}) {
    Buf k = randn({n, BS, D}, 4), v = randn({n, BS, D}, 5);
    std::map<std::string, TensorView> views;
    for (auto &kv : c->bufs)
      views[kv.first] = kv.second.view();
    views["kv.0.k"] = k.view();
    views["kv.0.v"] = v.view();
    EXPECT_NO_THROW(ex.run("f", views)) << n;
  }
}

TEST(Paged, ValidationRejectsBadShapesAtLoad) {
  const int64_t D = 4, BS = 2;
  auto load = [](const FunctionBuilder &b) -> std::string {
    try {
      artifactOf(b);
    } catch (const ArtifactError &e) {
      return e.what();
    }
    return "<no error>";
  };
  {
    Case c; // v cache of another block size
    int q = c.in("q", randn({1, 1, D}, 1), {-1, -2, D});
    int kc = c.in("k", randn({3, BS, D}, 2), {-3, BS, D}, "state");
    int vc = c.in("v", randn({3, BS + 1, D}, 3), {-3, BS + 1, D}, "state");
    int table = c.in("bt", ints({1, 2}, {0, 0}), {-1, 2});
    int start = c.in("start", ints({1}, {0}), {-1});
    int o = c.b.temp({-1, -2, D});
    c.b.kernel("paged_attention", {q, kc, vc, table, start}, {o},
               {{"num_heads", 3}, {"scale", 1.0}});
    c.b.output("o", o);
    std::string err = load(c.b);
    EXPECT_NE(err.find("kernel 'paged_attention': v_cache has shape "
                       "[5, 3, 4], expected [5, 2, 4]"),
              std::string::npos)
        << err;
  }
  {
    Case c; // start of the wrong dtype; kv_cache_write not aliased
    int kc = c.in("k", randn({3, BS, D}, 2), {-3, BS, D}, "state");
    int x = c.in("x", randn({1, 1, D}, 1), {-1, -2, D});
    int table = c.in("bt", ints({1, 2}, {0, 0}), {-1, 2});
    int start = c.in("start", randn({1}, 1), {-1});
    int out = c.b.alias(kc, {-3, BS, D});
    c.b.kernel("kv_cache_write", {kc, x, table, start}, {out});
    std::string err = load(c.b);
    EXPECT_NE(err.find("kernels[0].inputs[3]: value 3 is f32, kernel "
                       "'kv_cache_write' needs i32"),
              std::string::npos)
        << err;
  }
  {
    Case c; // the cache written without an output aliasing it
    int kc = c.in("k", randn({3, BS, D}, 2), {-3, BS, D}, "state");
    int x = c.in("x", randn({1, 1, D}, 1), {-1, -2, D});
    int table = c.in("bt", ints({1, 2}, {0, 0}), {-1, 2});
    int start = c.in("start", ints({1}, {0}), {-1});
    int out = c.b.alias(kc, {-3, BS, D});
    c.b.kernel("kv_cache_write", {kc, x, table, start}, {out});
    std::string err = load(c.b);
    EXPECT_NE(err.find("writes into input 'k', which no function output "
                       "aliases"),
              std::string::npos)
        << err;
  }
  {
    Case c; // missing num_heads: the reader fills it from the config (2)
    int q = c.in("q", randn({1, 1, 8}, 1), {-1, -2, 8});
    int kc = c.in("k", randn({3, BS, 8}, 2), {-3, BS, 8}, "state");
    int vc = c.in("v", randn({3, BS, 8}, 3), {-3, BS, 8}, "state");
    int table = c.in("bt", ints({1, 2}, {0, 0}), {-1, 2});
    int start = c.in("start", ints({1}, {0}), {-1});
    int o = c.b.temp({-1, -2, 8});
    c.b.kernel("paged_attention", {q, kc, vc, table, start}, {o});
    c.b.output("o", o);
    Artifact a = artifactOf(c.b);
    EXPECT_EQ(attrInt(a.functions[0].kernels[0], "num_heads"), 2);
    EXPECT_NEAR(attrFloat(a.functions[0].kernels[0], "scale"), 0.5, 1e-7);
  }
}

/// linear with few rows (a decode step) takes the streaming path; it must
/// match the reference, with and without bias and transposed weights.
TEST(Paged, LinearFewRows) {
  for (int64_t rows : {1, 3, 8})
    for (bool tw : {false, true})
      for (bool bias : {false, true}) {
        const int64_t K = 37, N = 300;
        Case c;
        int x = c.in("x", randn({rows, K}, 11), {-1, K});
        int w = c.in("w", randn({tw ? N : K, tw ? K : N}, 12));
        int b = bias ? c.in("b", randn({N}, 13)) : -1;
        int y = c.b.temp({-1, N});
        c.b.kernel("linear", {x, w, b}, {y}, {{"transpose_weight", tw}});
        c.b.output("y", y);
        auto out = c.run();
        const Buf &X = c.bufs["x"], &W = c.bufs["w"];
        std::vector<double> want;
        for (int64_t m = 0; m < rows; ++m)
          for (int64_t n = 0; n < N; ++n) {
            double acc = bias ? c.bufs["b"].f[n] : 0.0;
            for (int64_t k = 0; k < K; ++k)
              acc += double(X.f[m * K + k]) * W.f[tw ? n * K + k : k * N + n];
            want.push_back(acc);
          }
        EXPECT_TRUE(near(out["y"].f32, want, 1e-4, 1e-4))
            << rows << " rows, transposed " << tw << ", bias " << bias;
      }
}
