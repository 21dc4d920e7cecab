//===- KernelTest.cpp -----------------------------------------------------===//
//
// Every kernel of docs/artifact.md against a naive double-precision
// reference, each as a one-kernel artifact run by the CPU executor.
// Tolerance: |got - want| <= 1e-5 + 1e-4 |want| unless stated.
#include "Builder.h"
#include "runtime/executor/KernelsInternal.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>

using namespace gpt;
using namespace gpt::test;
using json = nlohmann::json;

namespace {

constexpr int64_t B = 2, T = 5;

/// A one-function artifact plus the caller's buffers.
struct Case {
  FunctionBuilder b;
  std::map<std::string, Buf> bufs;

  int in(const std::string &name, Buf buf, std::vector<int64_t> declared = {}) {
    const char *dtype = buf.dtype == DType::F32 ? "f32" : "i32";
    int id = b.input(name, declared.empty() ? buf.shape : declared, dtype);
    bufs[name] = std::move(buf);
    return id;
  }
  std::map<std::string, HostTensor> run(int threads = 3) {
    CpuExecutor ex(artifactOf(b), threads);
    std::map<std::string, TensorView> views;
    for (auto &kv : bufs)
      views[kv.first] = kv.second.view();
    return ex.run("f", views);
  }
};

std::vector<double> d(const std::vector<float> &v) {
  return std::vector<double>(v.begin(), v.end());
}

std::string runError(Case &c) {
  try {
    c.run();
  } catch (const ExecutorError &e) {
    return e.what();
  }
  return "<no error>";
}

double gelu(double x) {
  return 0.5 * x *
         (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
double geluGrad(double x) {
  double k = std::sqrt(2 / M_PI), u = k * (x + 0.044715 * x * x * x);
  double t = std::tanh(u);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
}

} // namespace

TEST(Kernel, Embedding) {
  Case c;
  int table = c.in("table", randn({7, 4}, 1));
  int ids =
      c.in("tokens", ints({B, T}, {0, 1, 2, 3, 4, 5, 6, 6, 5, 0}), {-1, -2});
  int y = c.b.temp({-1, -2, 4});
  c.b.kernel("embedding", {table, ids}, {y});
  c.b.output("y", y);
  auto out = c.run();
  std::vector<double> want;
  for (int32_t id : c.bufs["tokens"].i)
    for (int j = 0; j < 4; ++j)
      want.push_back(c.bufs["table"].f[id * 4 + j]);
  EXPECT_TRUE(near(out["y"].f32, want, 0, 0));
  EXPECT_EQ(out["y"].shape, (std::vector<int64_t>{B, T, 4}));
  c.bufs["tokens"].i[7] = 7;
  std::string msg = runError(c);
  EXPECT_NE(msg.find("function 'f': kernels[0] (embedding): token id 7 at "
                     "position 7 out of range [0, 7)"),
            std::string::npos)
      << msg;
  c.bufs["tokens"].i[7] = -1;
  EXPECT_NE(runError(c).find("token id -1"), std::string::npos);
}

/// gpt.rope in double: pairs (i, i + hd/2) of each head in the first
/// `columns` columns turn by (start[b] + t) * theta^(-2i/hd) times `sign`.
static std::vector<double>
ropeReference(const std::vector<float> &x, int64_t Bn, int64_t Tn, int64_t D,
              int64_t hd, int64_t columns, double theta,
              const std::vector<int32_t> &start, double sign) {
  std::vector<double> y(x.begin(), x.end());
  for (int64_t b = 0; b < Bn; ++b)
    for (int64_t t = 0; t < Tn; ++t)
      for (int64_t h = 0; h < columns; h += hd)
        for (int64_t i = 0; i < hd / 2; ++i) {
          double pos = t + (start.empty() ? 0 : start[b]);
          double a = pos * std::pow(theta, -2.0 * i / hd);
          int64_t p = (b * Tn + t) * D + h + i, q = p + hd / 2;
          y[p] = x[p] * std::cos(a) - sign * x[q] * std::sin(a);
          y[q] = sign * x[p] * std::sin(a) + x[q] * std::cos(a);
        }
  return y;
}

// Two heads of 6 rotated out of 14 columns (the last 2 copied), with and
// without start offsets, and the inverse undoing the rotation.
TEST(Kernel, Rope) {
  Case c;
  int x = c.in("x", randn({B, T, 14}, 4), {-1, -2, 14});
  int start = c.in("start", ints({B}, {0, 1000}), {-1});
  int y = c.b.temp({-1, -2, 14}), ys = c.b.temp({-1, -2, 14}),
      back = c.b.temp({-1, -2, 14});
  json attrs = {{"head_dim", 6}, {"columns", 12}, {"theta", 100.0}};
  json inverse = attrs;
  inverse["inverse"] = true;
  c.b.kernel("rope", {x, -1}, {y}, attrs);
  c.b.kernel("rope", {x, start}, {ys}, attrs);
  c.b.kernel("rope", {ys, start}, {back}, inverse);
  c.b.output("y", y);
  c.b.output("ys", ys);
  c.b.output("back", back);
  auto out = c.run();
  const std::vector<float> &xs = c.bufs["x"].f;
  EXPECT_TRUE(near(out["y"].f32,
                   ropeReference(xs, B, T, 14, 6, 12, 100.0, {}, 1.0), 1e-6,
                   1e-6));
  EXPECT_TRUE(near(out["ys"].f32,
                   ropeReference(xs, B, T, 14, 6, 12, 100.0, {0, 1000}, 1.0),
                   1e-6, 1e-6));
  EXPECT_TRUE(near(out["back"].f32, d(xs), 1e-6, 1e-6));
  // Sequence 0 starts at 0, so its rows equal the start-less result.
  for (int64_t i = 0; i < T * 14; ++i)
    ASSERT_EQ(out["ys"].f32[i], out["y"].f32[i]) << i;
  c.bufs["start"].i[1] = -3;
  EXPECT_NE(runError(c).find("rope: sequence 1 starts at -3 (negative)"),
            std::string::npos);
}

TEST(Kernel, PositionEmbeddingAndGrad) {
  Case c;
  int table = c.in("table", randn({6, 4}, 2));
  int ids =
      c.in("tokens", ints({B, T}, std::vector<int32_t>(B * T, 0)), {-1, -2});
  int dy = c.in("dy", randn({B, T, 4}, 3), {-1, -2, 4});
  int y = c.b.temp({-1, -2, 4});
  int dt = c.b.temp({6, 4});
  c.b.kernel("position_embedding", {table, ids}, {y});
  c.b.kernel("position_embedding_grad", {dy}, {dt});
  c.b.output("y", y);
  c.b.output("dt", dt);
  auto out = c.run();
  std::vector<double> want, wantGrad(6 * 4, 0.0);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < 4; ++j) {
        want.push_back(c.bufs["table"].f[t * 4 + j]);
        wantGrad[t * 4 + j] += c.bufs["dy"].f[(b * T + t) * 4 + j];
      }
  EXPECT_TRUE(near(out["y"].f32, want, 0, 0));
  EXPECT_TRUE(near(out["dt"].f32, wantGrad));
  // T = 7 > context 6.
  c.bufs["tokens"] = ints({1, 7}, std::vector<int32_t>(7, 0));
  c.bufs["dy"] = randn({1, 7, 4}, 3);
  std::string msg = runError(c);
  EXPECT_NE(msg.find("kernels[0] (position_embedding): sequence length T = 7 "
                     "exceeds the context length 6"),
            std::string::npos)
      << msg;
}

TEST(Kernel, LayerNormAndGrad) {
  const int D = 8;
  Case c;
  int x = c.in("x", randn({B, T, D}, 4, 2.0f), {-1, -2, D});
  int g = c.in("g", randn({D}, 5));
  int be = c.in("b", randn({D}, 6));
  int dy = c.in("dy", randn({B, T, D}, 7), {-1, -2, D});
  int y = c.b.temp({-1, -2, D}), dx = c.b.temp({-1, -2, D});
  int dg = c.b.temp({D}), db = c.b.temp({D});
  c.b.kernel("layernorm", {x, g, be}, {y}, {{"epsilon", 1e-5}});
  c.b.kernel("layernorm_grad", {dy, x, g}, {dx, dg, db}, {{"epsilon", 1e-5}});
  c.b.output("y", y);
  c.b.output("dx", dx);
  c.b.output("dg", dg);
  c.b.output("db", db);
  auto out = c.run();
  const auto &X = c.bufs["x"].f, &G = c.bufs["g"].f, &Be = c.bufs["b"].f,
             &DY = c.bufs["dy"].f;
  std::vector<double> wy, wdx, wdg(D, 0), wdb(D, 0);
  for (int r = 0; r < B * T; ++r) {
    double m = 0, v = 0;
    for (int j = 0; j < D; ++j)
      m += X[r * D + j];
    m /= D;
    for (int j = 0; j < D; ++j)
      v += (X[r * D + j] - m) * (X[r * D + j] - m);
    v /= D;
    double rs = 1 / std::sqrt(v + 1e-5);
    double mg = 0, mgx = 0;
    for (int j = 0; j < D; ++j) {
      double xh = (X[r * D + j] - m) * rs;
      wy.push_back(xh * G[j] + Be[j]);
      wdg[j] += DY[r * D + j] * xh;
      wdb[j] += DY[r * D + j];
      mg += DY[r * D + j] * G[j] / D;
      mgx += DY[r * D + j] * G[j] * xh / D;
    }
    for (int j = 0; j < D; ++j) {
      double xh = (X[r * D + j] - m) * rs;
      wdx.push_back(rs * (DY[r * D + j] * G[j] - mg - xh * mgx));
    }
  }
  EXPECT_TRUE(near(out["y"].f32, wy));
  EXPECT_TRUE(near(out["dx"].f32, wdx, 1e-4));
  EXPECT_TRUE(near(out["dg"].f32, wdg, 1e-4));
  EXPECT_TRUE(near(out["db"].f32, wdb, 1e-4));
}

class LinearTest : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

TEST_P(LinearTest, ForwardAndWeightGrad) {
  auto [tw, bias] = GetParam();
  const int K = 6, N = 5;
  Case c;
  int x = c.in("x", randn({B, T, K}, 8), {-1, -2, K});
  int w = c.in("w", randn({tw ? N : K, tw ? K : N}, 9));
  int bi = bias ? c.in("bias", randn({N}, 10)) : -1;
  int dy = c.in("dy", randn({B, T, N}, 11), {-1, -2, N});
  int y = c.b.temp({-1, -2, N});
  int dw = c.b.temp({tw ? N : K, tw ? K : N});
  c.b.kernel("linear", {x, w, bi}, {y}, {{"transpose_weight", tw}});
  c.b.kernel("linear_weight_grad", {x, dy}, {dw}, {{"transpose_weight", tw}});
  c.b.output("y", y);
  c.b.output("dw", dw);
  auto out = c.run();
  const auto &X = c.bufs["x"].f, &W = c.bufs["w"].f, &DY = c.bufs["dy"].f;
  auto wAt = [&](int k, int n) { return tw ? W[n * K + k] : W[k * N + n]; };
  std::vector<double> wy, wdw(K * N, 0);
  for (int r = 0; r < B * T; ++r)
    for (int n = 0; n < N; ++n) {
      double s = bias ? c.bufs["bias"].f[n] : 0;
      for (int k = 0; k < K; ++k)
        s += double(X[r * K + k]) * wAt(k, n);
      wy.push_back(s);
    }
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) {
      double s = 0;
      for (int r = 0; r < B * T; ++r)
        s += double(X[r * K + k]) * DY[r * N + n];
      wdw[tw ? n * K + k : k * N + n] = s;
    }
  EXPECT_TRUE(near(out["y"].f32, wy));
  EXPECT_TRUE(near(out["dw"].f32, wdw));
}

INSTANTIATE_TEST_SUITE_P(Kernel, LinearTest,
                         ::testing::Combine(::testing::Bool(),
                                            ::testing::Bool()));

class MatmulTest
    : public ::testing::TestWithParam<std::tuple<bool, bool, bool>> {};

TEST_P(MatmulTest, Batched) {
  auto [tl, tr, bBatched] = GetParam();
  const int M = 3, K = 4, N = 5, G = 6; // G batches [2, 3]
  Case c;
  int a = c.in("a", randn({2, 3, tl ? K : M, tl ? M : K}, 12));
  std::vector<int64_t> bs = {tr ? N : K, tr ? K : N};
  if (bBatched)
    bs.insert(bs.begin(), {2, 3});
  int bb = c.in("b", randn(bs, 13));
  int y = c.b.temp({2, 3, M, N});
  c.b.kernel("matmul", {a, bb}, {y},
             {{"transpose_lhs", tl}, {"transpose_rhs", tr}});
  c.b.output("c", y);
  auto out = c.run();
  const auto &A = c.bufs["a"].f, &Bm = c.bufs["b"].f;
  std::vector<double> want;
  for (int g = 0; g < G; ++g)
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        double s = 0;
        for (int k = 0; k < K; ++k) {
          double av = tl ? A[g * M * K + k * M + m] : A[g * M * K + m * K + k];
          int boff = bBatched ? g * K * N : 0;
          double bv = tr ? Bm[boff + n * K + k] : Bm[boff + k * N + n];
          s += av * bv;
        }
        want.push_back(s);
      }
  EXPECT_TRUE(near(out["c"].f32, want));
}

INSTANTIATE_TEST_SUITE_P(Kernel, MatmulTest,
                         ::testing::Combine(::testing::Bool(),
                                            ::testing::Bool(),
                                            ::testing::Bool()));

TEST(Kernel, SplitConcatTranspose) {
  Case c;
  int x = c.in("x", randn({B, T, 12}, 14), {-1, -2, 12});
  int p0 = c.b.temp({-1, -2, 4}), p1 = c.b.temp({-1, -2, 4}),
      p2 = c.b.temp({-1, -2, 4});
  int cat = c.b.temp({-1, -2, 12});
  int x4 = c.b.alias(x, {-1, -2, 3, 4});
  int tr = c.b.temp({-1, 3, -2, 4});
  int z = c.in("z", randn({2, 5, 12}, 18));
  int s0 = c.b.temp({2, 2, 12}), s1 = c.b.temp({2, 3, 12});
  c.b.kernel("split", {x}, {p0, p1, p2}, {{"axis", -1}});
  c.b.kernel("concat", {p2, p0, p1}, {cat}, {{"axis", 2}});
  c.b.kernel("transpose", {x4}, {tr}, {{"permutation", {0, 2, 1, 3}}});
  c.b.kernel("split", {z}, {s0, s1}, {{"axis", 1}});
  c.b.output("p1", p1);
  c.b.output("cat", cat);
  c.b.output("tr", tr);
  c.b.output("s1", s1);
  auto out = c.run();
  const auto &X = c.bufs["x"].f;
  std::vector<double> wp1, wcat, wtr, ws1;
  for (int r = 0; r < B * T; ++r) {
    for (int j = 4; j < 8; ++j)
      wp1.push_back(X[r * 12 + j]);
    for (int j : {8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7})
      wcat.push_back(X[r * 12 + j]);
  }
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < 3; ++h)
      for (int t = 0; t < T; ++t)
        for (int j = 0; j < 4; ++j)
          wtr.push_back(X[(b * T + t) * 12 + h * 4 + j]);
  for (int b = 0; b < B; ++b)
    for (int t = 2; t < T; ++t)
      for (int j = 0; j < 12; ++j)
        ws1.push_back(c.bufs["z"].f[(b * T + t) * 12 + j]);
  EXPECT_TRUE(near(out["p1"].f32, wp1, 0, 0));
  EXPECT_TRUE(near(out["cat"].f32, wcat, 0, 0));
  EXPECT_TRUE(near(out["tr"].f32, wtr, 0, 0));
  EXPECT_TRUE(near(out["s1"].f32, ws1, 0, 0));
}

TEST(Kernel, SoftmaxAxesAndGrad) {
  Case c;
  int x = c.in("x", randn({2, 3, 4}, 15, 3.0f));
  int dy = c.in("dy", randn({2, 3, 4}, 16));
  int yl = c.b.temp({2, 3, 4}), y1 = c.b.temp({2, 3, 4});
  int gl = c.b.temp({2, 3, 4}), g1 = c.b.temp({2, 3, 4});
  c.b.kernel("softmax", {x}, {yl}, {{"axis", -1}});
  c.b.kernel("softmax", {x}, {y1}, {{"axis", 1}});
  c.b.kernel("softmax_grad", {dy, yl}, {gl}, {{"axis", 2}});
  c.b.kernel("softmax_grad", {dy, y1}, {g1}, {{"axis", 1}});
  for (auto [n, v] : {std::pair{"yl", yl}, {"y1", y1}, {"gl", gl}, {"g1", g1}})
    c.b.output(n, v);
  auto out = c.run();
  const auto &X = c.bufs["x"].f, &DY = c.bufs["dy"].f;
  // strides: axis 2 -> (len 4, stride 1); axis 1 -> (len 3, stride 4)
  auto ref = [&](int len, int stride, std::vector<double> &y,
                 std::vector<double> &g) {
    y.assign(24, 0);
    g.assign(24, 0);
    for (int base = 0; base < 24; ++base) {
      int pos = (base / stride) % len;
      if (pos != 0)
        continue;
      double m = -1e30, s = 0, dot = 0;
      for (int j = 0; j < len; ++j)
        m = std::max(m, double(X[base + j * stride]));
      for (int j = 0; j < len; ++j)
        s += std::exp(X[base + j * stride] - m);
      for (int j = 0; j < len; ++j)
        y[base + j * stride] = std::exp(X[base + j * stride] - m) / s;
      for (int j = 0; j < len; ++j)
        dot += DY[base + j * stride] * y[base + j * stride];
      for (int j = 0; j < len; ++j)
        g[base + j * stride] =
            y[base + j * stride] * (DY[base + j * stride] - dot);
    }
  };
  std::vector<double> wyl, wgl, wy1, wg1;
  ref(4, 1, wyl, wgl);
  ref(3, 4, wy1, wg1);
  EXPECT_TRUE(near(out["yl"].f32, wyl));
  EXPECT_TRUE(near(out["gl"].f32, wgl));
  EXPECT_TRUE(near(out["y1"].f32, wy1));
  EXPECT_TRUE(near(out["g1"].f32, wg1));
}

TEST(Kernel, ScaledMaskedSoftmaxAndCausalMask) {
  const int Tq = 4, S = 6;
  Case c;
  int x = c.in("x", randn({2, Tq, S}, 17, 2.0f));
  int y = c.b.temp({2, Tq, S}), m = c.b.temp({2, Tq, S}),
      yn = c.b.temp({2, Tq, S});
  c.b.kernel("scaled_masked_softmax", {x}, {y},
             {{"scale", 0.5}, {"causal", true}});
  c.b.kernel("scaled_masked_softmax", {x}, {yn},
             {{"scale", 0.5}, {"causal", false}});
  c.b.kernel("causal_mask", {x}, {m}, {{"fill", "-inf"}});
  c.b.output("y", y);
  c.b.output("yn", yn);
  c.b.output("m", m);
  auto out = c.run();
  const auto &X = c.bufs["x"].f;
  std::vector<double> wy, wyn;
  for (int r = 0; r < 2 * Tq; ++r) {
    int i = r % Tq;
    for (bool causal : {true, false}) {
      double mx = -1e30, s = 0;
      auto ok = [&](int j) { return !causal || j <= i + S - Tq; };
      for (int j = 0; j < S; ++j)
        if (ok(j))
          mx = std::max(mx, 0.5 * X[r * S + j]);
      for (int j = 0; j < S; ++j)
        if (ok(j))
          s += std::exp(0.5 * X[r * S + j] - mx);
      for (int j = 0; j < S; ++j)
        (causal ? wy : wyn)
            .push_back(ok(j) ? std::exp(0.5 * X[r * S + j] - mx) / s : 0.0);
    }
    for (int j = 0; j < S; ++j) {
      float got = out["m"].f32[r * S + j];
      if (j > i + S - Tq)
        EXPECT_TRUE(std::isinf(got) && got < 0);
      else
        EXPECT_EQ(got, X[r * S + j]);
    }
  }
  EXPECT_TRUE(near(out["y"].f32, wy));
  EXPECT_TRUE(near(out["yn"].f32, wyn));
}

namespace {
/// Naive causal attention over q [B,T,D], k/v [B,S,D] in double, with the
/// backward given dout (S == T only).
struct AttentionRef {
  std::vector<double> o, lse, dq, dk, dv;
};

AttentionRef attentionRef(const std::vector<float> &q,
                          const std::vector<float> &k,
                          const std::vector<float> &v,
                          const std::vector<float> *dout, int Bn, int Tq, int S,
                          int D, int H, double scale, bool causal = true) {
  int Dh = D / H;
  AttentionRef r;
  r.o.assign(Bn * Tq * D, 0);
  r.lse.assign(Bn * H * Tq, 0);
  r.dq.assign(Bn * Tq * D, 0);
  r.dk.assign(Bn * S * D, 0);
  r.dv.assign(Bn * S * D, 0);
  for (int b = 0; b < Bn; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < Tq; ++i) {
        int limit = causal ? std::min(S, i + S - Tq + 1) : S;
        std::vector<double> s(limit), p(limit);
        double m = -1e30, l = 0;
        for (int j = 0; j < limit; ++j) {
          double dot = 0;
          for (int e = 0; e < Dh; ++e)
            dot += double(q[(b * Tq + i) * D + h * Dh + e]) *
                   k[(b * S + j) * D + h * Dh + e];
          s[j] = scale * dot;
          m = std::max(m, s[j]);
        }
        for (int j = 0; j < limit; ++j)
          l += std::exp(s[j] - m);
        r.lse[(b * H + h) * Tq + i] = m + std::log(l);
        for (int j = 0; j < limit; ++j) {
          p[j] = std::exp(s[j] - m) / l;
          for (int e = 0; e < Dh; ++e)
            r.o[(b * Tq + i) * D + h * Dh + e] +=
                p[j] * v[(b * S + j) * D + h * Dh + e];
        }
        if (!dout)
          continue;
        const auto &dO = *dout;
        std::vector<double> dp(limit);
        double sum = 0;
        for (int j = 0; j < limit; ++j) {
          for (int e = 0; e < Dh; ++e) {
            double g = dO[(b * Tq + i) * D + h * Dh + e];
            dp[j] += g * v[(b * S + j) * D + h * Dh + e];
            r.dv[(b * S + j) * D + h * Dh + e] += p[j] * g;
          }
          sum += dp[j] * p[j];
        }
        for (int j = 0; j < limit; ++j) {
          double ds = p[j] * (dp[j] - sum) * scale;
          for (int e = 0; e < Dh; ++e) {
            r.dq[(b * Tq + i) * D + h * Dh + e] +=
                ds * k[(b * S + j) * D + h * Dh + e];
            r.dk[(b * S + j) * D + h * Dh + e] +=
                ds * q[(b * Tq + i) * D + h * Dh + e];
          }
        }
      }
  return r;
}
} // namespace

TEST(Kernel, AttentionSeparateAndPacked) {
  const int D = 8, H = 2;
  const double scale = 1.0 / std::sqrt(4.0);
  Case c;
  int q = c.in("q", randn({B, T, D}, 20), {-1, -2, D});
  int k = c.in("k", randn({B, T, D}, 21), {-1, -2, D});
  int v = c.in("v", randn({B, T, D}, 22), {-1, -2, D});
  int dO = c.in("do", randn({B, T, D}, 23), {-1, -2, D});
  int o = c.b.temp({-1, -2, D}), lse = c.b.temp({-1, H, -2});
  int dq = c.b.temp({-1, -2, D}), dk = c.b.temp({-1, -2, D}),
      dv = c.b.temp({-1, -2, D});
  int qkv = c.b.temp({-1, -2, 3 * D});
  int o2 = c.b.temp({-1, -2, D}), lse2 = c.b.temp({-1, H, -2});
  int dqkv = c.b.temp({-1, -2, 3 * D});
  json attrs = {{"num_heads", H}, {"scale", scale}};
  c.b.kernel("attention", {q, k, v}, {o, lse}, attrs);
  c.b.kernel("attention_grad", {dO, q, k, v, o, lse}, {dq, dk, dv}, attrs);
  c.b.kernel("concat", {q, k, v}, {qkv}, {{"axis", 2}});
  c.b.kernel("attention_qkv", {qkv}, {o2, lse2}, attrs);
  c.b.kernel("attention_qkv_grad", {dO, qkv, o2, lse2}, {dqkv}, attrs);
  for (auto [n, id] : {std::pair{"o", o},
                       {"lse", lse},
                       {"dq", dq},
                       {"dk", dk},
                       {"dv", dv},
                       {"o2", o2},
                       {"lse2", lse2},
                       {"dqkv", dqkv}})
    c.b.output(n, id);
  auto out = c.run();
  AttentionRef r = attentionRef(c.bufs["q"].f, c.bufs["k"].f, c.bufs["v"].f,
                                &c.bufs["do"].f, B, T, T, D, H, scale);
  EXPECT_TRUE(near(out["o"].f32, r.o, 1e-5, 1e-4));
  EXPECT_TRUE(near(out["lse"].f32, r.lse, 1e-5, 1e-4));
  EXPECT_TRUE(near(out["dq"].f32, r.dq, 1e-4, 1e-3));
  EXPECT_TRUE(near(out["dk"].f32, r.dk, 1e-4, 1e-3));
  EXPECT_TRUE(near(out["dv"].f32, r.dv, 1e-4, 1e-3));
  EXPECT_TRUE(near(out["o2"].f32, r.o, 1e-5, 1e-4));
  EXPECT_TRUE(near(out["lse2"].f32, r.lse, 1e-5, 1e-4));
  std::vector<double> wdqkv;
  for (int row = 0; row < B * T; ++row)
    for (const auto *part : {&r.dq, &r.dk, &r.dv})
      for (int e = 0; e < D; ++e)
        wdqkv.push_back((*part)[row * D + e]);
  EXPECT_TRUE(near(out["dqkv"].f32, wdqkv, 1e-4, 1e-3));
}

TEST(Kernel, AttentionLongerKeys) {
  // Decode-like: 2 queries against 7 keys; query i sees keys j <= i + 5.
  const int D = 8, H = 2, Tq = 2, S = 7;
  Case c;
  int q = c.in("q", randn({B, Tq, D}, 24));
  int k = c.in("k", randn({B, S, D}, 25));
  int v = c.in("v", randn({B, S, D}, 26));
  int o = c.b.temp({B, Tq, D}), lse = c.b.temp({B, H, Tq});
  c.b.kernel("attention", {q, k, v}, {o, lse},
             {{"num_heads", H}, {"scale", 0.3}});
  c.b.output("o", o);
  c.b.output("lse", lse);
  auto out = c.run();
  AttentionRef r = attentionRef(c.bufs["q"].f, c.bufs["k"].f, c.bufs["v"].f,
                                nullptr, B, Tq, S, D, H, 0.3);
  EXPECT_TRUE(near(out["o"].f32, r.o));
  EXPECT_TRUE(near(out["lse"].f32, r.lse));
}

class CrossEntropyTest : public ::testing::TestWithParam<bool> {};

TEST_P(CrossEntropyTest, ForwardAndGrad) {
  bool weighted = GetParam();
  const int V = 7, N = B * T;
  Case c;
  int logits = c.in("logits", randn({B, T, V}, 30, 2.0f), {-1, -2, V});
  int targets =
      c.in("targets", ints({B, T}, {0, 6, 3, 2, 1, 5, 4, 4, 0, 6}), {-1, -2});
  int w = weighted ? c.in("w", floats({B, T}, {1, 0, 1, 0.5, 1, 1, 2, 0, 1, 1}),
                          {-1, -2})
                   : -1;
  int dloss = c.in("dloss", scalar(0.75f), std::vector<int64_t>{});
  int loss = c.b.temp({});
  int dl = c.b.temp({-1, -2, V});
  c.b.kernel("cross_entropy", {logits, targets, w}, {loss});
  c.b.kernel("cross_entropy_grad", {dloss, logits, targets, w}, {dl});
  c.b.output("loss", loss);
  c.b.output("dlogits", dl);
  auto out = c.run();
  const auto &L = c.bufs["logits"].f;
  const auto &Tg = c.bufs["targets"].i;
  double sw = 0, sl = 0;
  std::vector<double> wd(N * V);
  std::vector<double> wt(N, 1.0);
  if (weighted)
    for (int i = 0; i < N; ++i)
      wt[i] = c.bufs["w"].f[i];
  for (int i = 0; i < N; ++i) {
    double m = -1e30, s = 0;
    for (int j = 0; j < V; ++j)
      m = std::max(m, double(L[i * V + j]));
    for (int j = 0; j < V; ++j)
      s += std::exp(L[i * V + j] - m);
    double lse = m + std::log(s);
    sl += wt[i] * (lse - L[i * V + Tg[i]]);
    sw += wt[i];
  }
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < V; ++j) {
      double m = -1e30, s = 0;
      for (int jj = 0; jj < V; ++jj)
        m = std::max(m, double(L[i * V + jj]));
      for (int jj = 0; jj < V; ++jj)
        s += std::exp(L[i * V + jj] - m);
      double p = std::exp(L[i * V + j] - m) / s;
      wd[i * V + j] = 0.75 * wt[i] / sw * (p - (j == Tg[i]));
    }
  EXPECT_TRUE(near(out["loss"].f32, {sl / sw}));
  EXPECT_TRUE(out["loss"].shape.empty());
  EXPECT_TRUE(near(out["dlogits"].f32, wd));
}

INSTANTIATE_TEST_SUITE_P(Kernel, CrossEntropyTest, ::testing::Bool());

TEST(Kernel, CrossEntropyTargetOutOfRange) {
  Case c;
  int logits = c.in("logits", randn({1, 2, 3}, 31), {-1, -2, 3});
  int targets = c.in("targets", ints({1, 2}, {0, 3}), {-1, -2});
  int loss = c.b.temp({});
  c.b.kernel("cross_entropy", {logits, targets, -1}, {loss});
  c.b.output("loss", loss);
  std::string msg = runError(c);
  EXPECT_NE(msg.find("kernels[0] (cross_entropy)"), std::string::npos) << msg;
}

TEST(Kernel, ElementwisePrograms) {
  const int D = 6;
  Case c;
  int x = c.in("x", randn({B, T, D}, 40), {-1, -2, D});    // r0
  int bias = c.in("bias", randn({D}, 41));                 // r1
  int pos = c.in("pos", randn({T, D}, 42), {-2, D});       // r2
  int s = c.in("s", scalar(1.5f), std::vector<int64_t>{}); // r3
  int g = c.in("g", randn({D}, 43));                       // r4
  int be = c.in("be", randn({D}, 44));                     // r5
  int dy = c.in("dy", randn({B, T, D}, 45), {-1, -2, D});  // r6
  int y0 = c.b.temp({-1, -2, D}), y1 = c.b.temp({-1, -2, D}),
      y2 = c.b.temp({-1, -2, D});
  json prog = {{"instructions",
                {
                    {{"op", "add"}, {"args", {0, 1}}}, // r7 = x + bias
                    {{"op", "sub"}, {"args", {7, 2}}}, // r8 = r7 - pos
                    {{"op", "mul"}, {"args", {8, 3}}}, // r9 = r8 * s
                    {{"op", "scale"}, {"args", {9}}, {"factor", -0.5}}, // r10
                    {{"op", "neg"}, {"args", {10}}},                    // r11
                    {{"op", "gelu"}, {"args", {11}}},                   // r12
                    {{"op", "gelu_grad"}, {"args", {6, 11}}},           // r13
                    {{"op", "add"}, {"args", {12, 13}}},                // r14
                    {{"op", "layernorm"},
                     {"args", {14, 4, 5}},
                     {"epsilon", 1e-5}}, // r15
                }},
               {"outputs", {12, 15, 13}}};
  c.b.kernel("elementwise", {x, bias, pos, s, g, be, dy}, {y0, y1, y2},
             {{"program", prog}});
  c.b.output("gelu", y0);
  c.b.output("ln", y1);
  c.b.output("gg", y2);
  auto out = c.run();
  std::vector<double> wg, wl, wgg;
  for (int r = 0; r < B * T; ++r) {
    std::vector<double> row(D);
    for (int j = 0; j < D; ++j) {
      double v = c.bufs["x"].f[r * D + j] + c.bufs["bias"].f[j];
      v -= c.bufs["pos"].f[(r % T) * D + j];
      v *= 1.5;
      v *= -0.5;
      v = -v;
      double ge = gelu(v), gg = c.bufs["dy"].f[r * D + j] * geluGrad(v);
      wg.push_back(ge);
      wgg.push_back(gg);
      row[j] = ge + gg;
    }
    double m = 0, var = 0;
    for (double v : row)
      m += v / D;
    for (double v : row)
      var += (v - m) * (v - m) / D;
    for (int j = 0; j < D; ++j)
      wl.push_back((row[j] - m) / std::sqrt(var + 1e-5) * c.bufs["g"].f[j] +
                   c.bufs["be"].f[j]);
  }
  EXPECT_TRUE(near(out["gelu"].f32, wg, 1e-5, 1e-4));
  EXPECT_TRUE(near(out["gg"].f32, wgg, 1e-5, 1e-4));
  EXPECT_TRUE(near(out["ln"].f32, wl, 1e-4, 1e-4));
}

TEST(Kernel, ElementwiseScalarOutput) {
  Case c;
  int a = c.in("a", scalar(2.0f), std::vector<int64_t>{});
  int b2 = c.in("b", scalar(3.0f), std::vector<int64_t>{});
  int y = c.b.temp({});
  c.b.kernel("elementwise", {a, b2}, {y},
             {{"program",
               {{"instructions", {{{"op", "mul"}, {"args", {0, 1}}}}},
                {"outputs", {2}}}}});
  c.b.output("y", y);
  EXPECT_EQ(c.run()["y"].f32, std::vector<float>{6.0f});
}

TEST(Kernel, SumLeadingEmbeddingGradFill) {
  const int D = 5, V = 4;
  Case c;
  int x = c.in("x", randn({B, T, D}, 50), {-1, -2, D});
  int ids = c.in("ids", ints({B, T}, {0, 1, 1, 3, 3, 3, 0, 2, 1, 1}), {-1, -2});
  int sl = c.b.temp({D}), sl2 = c.b.temp({-2, D});
  int dt = c.b.temp({V, D});
  int f = c.b.temp({3}), fi = c.b.temp({2}, "i32");
  c.b.kernel("sum_leading", {x}, {sl});
  c.b.kernel("sum_leading", {x}, {sl2});
  c.b.kernel("embedding_grad", {x, ids}, {dt});
  c.b.kernel("fill", {}, {f}, {{"value", 2.5}});
  c.b.kernel("fill", {}, {fi}, {{"value", -3}});
  c.b.output("sl", sl);
  c.b.output("sl2", sl2);
  c.b.output("dt", dt);
  c.b.output("f", f);
  c.b.output("fi", fi);
  auto out = c.run();
  const auto &X = c.bufs["x"].f;
  std::vector<double> wsl(D, 0), wsl2(T * D, 0), wdt(V * D, 0);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < D; ++j) {
        double v = X[(b * T + t) * D + j];
        wsl[j] += v;
        wsl2[t * D + j] += v;
        wdt[c.bufs["ids"].i[b * T + t] * D + j] += v;
      }
  EXPECT_TRUE(near(out["sl"].f32, wsl));
  EXPECT_TRUE(near(out["sl2"].f32, wsl2));
  EXPECT_TRUE(near(out["dt"].f32, wdt));
  EXPECT_TRUE(near(out["f"].f32, {2.5, 2.5, 2.5}, 0, 0));
  EXPECT_EQ(out["fi"].i32, (std::vector<int32_t>{-3, -3}));
  EXPECT_EQ(out["fi"].dtype, DType::I32);
}

TEST(Kernel, GlobalNormLrScheduleAdamW) {
  const int n = 7;
  // hparams: lr, min_lr, warmup, total, beta1, beta2, eps, wd, clip
  std::vector<float> hp = {1e-2f, 1e-3f, 10,   100, 0.9f,
                           0.95f, 1e-8f, 0.1f, 1.0f};
  for (int32_t step : {0, 4, 10, 55, 100, 250})
    for (bool decay : {true, false}) {
      Case c;
      int p = c.in("p", randn({n}, 60));
      int g = c.in("g", randn({n}, 61, 3.0f));
      int m = c.in("m", randn({n}, 62, 0.1f));
      int v =
          c.in("v", floats({n}, {0.1f, 0.2f, 0.3f, 0.0f, 1.0f, 2.0f, 0.5f}));
      int st = c.in("step", ints({}, {step}), std::vector<int64_t>{});
      int h = c.in("hparams", floats({9}, hp));
      int norm = c.b.temp({}), lr = c.b.temp({});
      int p2 = c.b.alias(p, {n}), m2 = c.b.alias(m, {n}),
          v2 = c.b.alias(v, {n});
      c.b.kernel("global_norm", {g, m}, {norm});
      c.b.kernel("lr_schedule", {st, h}, {lr});
      c.b.kernel("adamw", {p, g, m, v, lr, norm, st, h}, {p2, m2, v2},
                 {{"decay", decay}});
      c.b.output("norm", norm);
      c.b.output("lr", lr);
      c.b.output("p'", p2, 0);
      c.b.output("m'", m2, 2);
      c.b.output("v'", v2, 3);
      std::vector<float> P = c.bufs["p"].f, G = c.bufs["g"].f,
                         M = c.bufs["m"].f, Vv = c.bufs["v"].f;
      auto out = c.run();
      double nn = 0;
      for (int i = 0; i < n; ++i)
        nn += double(G[i]) * G[i] + double(M[i]) * M[i];
      nn = std::sqrt(nn);
      double wlr;
      if (step < 10)
        wlr = 1e-2 * (step + 1) / 10;
      else if (step >= 100)
        wlr = 1e-3;
      else
        wlr = 1e-3 +
              0.5 * (1e-2 - 1e-3) * (1 + std::cos(M_PI * (step - 10) / 90.0));
      EXPECT_TRUE(near(out["norm"].f32, {nn}));
      EXPECT_TRUE(near(out["lr"].f32, {wlr}, 1e-9, 1e-5)) << "step " << step;
      double clip = std::min(1.0, 1.0 / (double(float(nn)) + 1e-6));
      int t = int(step) + 1;
      std::vector<double> wp, wm, wv;
      for (int i = 0; i < n; ++i) {
        double gi = G[i] * clip;
        double mi = 0.9 * M[i] + 0.1 * gi;
        double vi = 0.95 * double(Vv[i]) + 0.05 * gi * gi;
        double mh = mi / (1 - std::pow(0.9, t)),
               vh = vi / (1 - std::pow(0.95, t));
        double lrv = double(out["lr"].f32[0]);
        wp.push_back(P[i] - lrv * (mh / (std::sqrt(vh) + 1e-8) +
                                   (decay ? 0.1 : 0.0) * P[i]));
        wm.push_back(mi);
        wv.push_back(vi);
      }
      EXPECT_TRUE(near(c.bufs["p"].f, wp, 1e-6, 1e-4)) << "step " << step;
      EXPECT_TRUE(near(c.bufs["m"].f, wm, 1e-6, 1e-4));
      EXPECT_TRUE(near(c.bufs["v"].f, wv, 1e-6, 1e-4));
      EXPECT_EQ(out.count("p'"), 0u); // aliased outputs are not returned
    }
}

class AttentionGeneralTest
    : public ::testing::TestWithParam<std::tuple<bool, int>> {};

// Non-causal attention, and k/v longer than q (causal, decode-like), forward
// and backward, separate and packed (packed only when S == T).
TEST_P(AttentionGeneralTest, ForwardAndGrad) {
  auto [causal, S] = GetParam();
  const int D = 8, H = 2, Tq = 3;
  const double scale = 0.4;
  Case c;
  int q = c.in("q", randn({B, Tq, D}, 70));
  int k = c.in("k", randn({B, S, D}, 71));
  int v = c.in("v", randn({B, S, D}, 72));
  int dO = c.in("do", randn({B, Tq, D}, 73));
  int o = c.b.temp({B, Tq, D}), lse = c.b.temp({B, H, Tq});
  int dq = c.b.temp({B, Tq, D}), dk = c.b.temp({B, S, D}),
      dv = c.b.temp({B, S, D});
  json attrs = {{"num_heads", H}, {"scale", scale}, {"causal", causal}};
  c.b.kernel("attention", {q, k, v}, {o, lse}, attrs);
  c.b.kernel("attention_grad", {dO, q, k, v, o, lse}, {dq, dk, dv}, attrs);
  int o2 = -1, dqkv = -1;
  if (S == Tq) {
    int qkv = c.b.temp({B, Tq, 3 * D});
    int lse2 = c.b.temp({B, H, Tq});
    o2 = c.b.temp({B, Tq, D});
    dqkv = c.b.temp({B, Tq, 3 * D});
    c.b.kernel("concat", {q, k, v}, {qkv}, {{"axis", 2}});
    c.b.kernel("attention_qkv", {qkv}, {o2, lse2}, attrs);
    c.b.kernel("attention_qkv_grad", {dO, qkv, o2, lse2}, {dqkv}, attrs);
    c.b.output("o2", o2);
    c.b.output("dqkv", dqkv);
  }
  for (auto [n, id] :
       {std::pair{"o", o}, {"lse", lse}, {"dq", dq}, {"dk", dk}, {"dv", dv}})
    c.b.output(n, id);
  auto out = c.run();
  AttentionRef r = attentionRef(c.bufs["q"].f, c.bufs["k"].f, c.bufs["v"].f,
                                &c.bufs["do"].f, B, Tq, S, D, H, scale, causal);
  EXPECT_TRUE(near(out["o"].f32, r.o));
  EXPECT_TRUE(near(out["lse"].f32, r.lse));
  EXPECT_TRUE(near(out["dq"].f32, r.dq, 1e-4, 1e-3));
  EXPECT_TRUE(near(out["dk"].f32, r.dk, 1e-4, 1e-3));
  EXPECT_TRUE(near(out["dv"].f32, r.dv, 1e-4, 1e-3));
  if (S == Tq) {
    EXPECT_TRUE(near(out["o2"].f32, r.o));
    std::vector<double> wdqkv;
    for (int row = 0; row < B * Tq; ++row)
      for (const auto *part : {&r.dq, &r.dk, &r.dv})
        for (int e = 0; e < D; ++e)
          wdqkv.push_back((*part)[row * D + e]);
    EXPECT_TRUE(near(out["dqkv"].f32, wdqkv, 1e-4, 1e-3));
  }
}

INSTANTIATE_TEST_SUITE_P(Kernel, AttentionGeneralTest,
                         ::testing::Values(std::make_tuple(false, 3),
                                           std::make_tuple(false, 5),
                                           std::make_tuple(true, 5)));

TEST(Kernel, CopyIntoInput) {
  // The compiler's write-back: copy a computed value into an input's buffer
  // (an alias of the input) at the end of the function.
  Case c;
  int x = c.in("x", randn({2, 3}, 80));
  int st = c.in("state", randn({2, 3}, 81));
  int y = c.b.temp({2, 3});
  int target = c.b.alias(st, {2, 3});
  c.b.kernel("elementwise", {x}, {y},
             {{"program",
               {{"instructions", {{{"op", "neg"}, {"args", {0}}}}},
                {"outputs", {1}}}}});
  c.b.kernel("copy", {y}, {target});
  c.b.output("state'", target, 1);
  auto out = c.run();
  EXPECT_TRUE(out.empty());
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(c.bufs["state"].f[i], -c.bufs["x"].f[i]);
}

// Adding a kernel to schema/Kernels.def means adding its CPU
// function: the table covers the registry, and `alias` (a view) alone has
// none.
TEST(CpuKernelTable, EveryRegistryKernelButAliasHasACpuFunction) {
  const exec::CpuKernelTable &table = exec::cpuKernelTable();
  for (size_t i = 0; i < static_cast<size_t>(KernelId::Count); ++i) {
    auto id = static_cast<KernelId>(i);
    EXPECT_EQ(table[i] != nullptr, id != KernelId::Alias) << kernelName(id);
  }
  EXPECT_THROW(exec::resolveKernel("alias"), ExecutorError);
  EXPECT_THROW(exec::resolveKernel("no_such_kernel"), ExecutorError);
}
