//===- EmbeddingTest.cpp - Token + position embedding tests --------------===//
//
// The forward is exact (one add per element); the backward is checked
// against finite differences (exact for a linear map up to rounding: atol
// 1e-5, rtol 1e-5) and must be bit-identical across thread counts.
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/Embedding.h"

#include "TestUtil.h"

#include <stdexcept>

namespace gpt::cpu::test {
namespace {

struct Shape {
  int64_t B, T, C, V, maxT;
};

std::vector<double> refEmbedding(const Shape &s,
                                 const std::vector<int32_t> &tok,
                                 const std::vector<double> &wte,
                                 const std::vector<double> &wpe) {
  std::vector<double> out(s.B * s.T * s.C);
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t t = 0; t < s.T; ++t)
      for (int64_t c = 0; c < s.C; ++c)
        out[(b * s.T + t) * s.C + c] =
            wte[tok[b * s.T + t] * s.C + c] + wpe[t * s.C + c];
  return out;
}

std::vector<int32_t> tokens(const Shape &s, uint32_t seed) {
  std::vector<int32_t> tok(s.B * s.T);
  for (size_t i = 0; i < tok.size(); ++i)
    tok[i] = static_cast<int32_t>((i * 2654435761u + seed) % s.V);
  return tok;
}

TEST(Embedding, ForwardAndBackward) {
  ThreadPool pool(2);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    for (Shape s : {Shape{1, 1, 1, 1, 1}, Shape{2, 5, 7, 4, 6},
                    Shape{3, 9, 130, 11, 16}}) {
      auto tok = tokens(s, 3); // V small: repeated tokens
      auto wte = randomVector(s.V * s.C, 1),
           wpe = randomVector(s.maxT * s.C, 2);
      auto dout = randomVector(s.B * s.T * s.C, 3);
      std::vector<float> out(s.B * s.T * s.C);
      embeddingForward(out.data(), tok.data(), wte.data(), wpe.data(), s.B, s.T,
                       s.C, s.V, s.maxT, pool);
      auto WTE = toDouble(wte), WPE = toDouble(wpe);
      std::string what = std::string("[") + isaName(isa) + "]";
      // One fp32 add per element: equal to the double sum rounded to float.
      std::vector<double> ref = refEmbedding(s, tok, WTE, WPE);
      for (double &r : ref)
        r = static_cast<float>(r);
      expectClose(out, ref, 0.0, 0.0, "embedding fwd " + what);
      std::vector<float> dwte(wte.size(), 5.0f), dwpe(wpe.size(), 5.0f);
      embeddingBackward(dwte.data(), dwpe.data(), dout.data(), tok.data(), s.B,
                        s.T, s.C, s.V, s.maxT, false, pool);
      expectClose(dwte,
                  numericGradient(WTE,
                                  [&](const std::vector<double> &v) {
                                    return dotWeights(
                                        refEmbedding(s, tok, v, WPE), dout);
                                  }),
                  1e-5, 1e-5, "embedding dwte " + what);
      expectClose(dwpe,
                  numericGradient(WPE,
                                  [&](const std::vector<double> &v) {
                                    return dotWeights(
                                        refEmbedding(s, tok, WTE, v), dout);
                                  }),
                  1e-5, 1e-5, "embedding dwpe " + what);
    }
  }
}

TEST(Embedding, RejectsBadTokensAndLengths) {
  ThreadPool pool(1);
  Shape s{1, 3, 4, 5, 3};
  std::vector<float> wte(s.V * s.C), wpe(s.maxT * s.C), out(s.T * s.C);
  std::vector<int32_t> bad = {0, 5, 1}, neg = {0, -1, 1}, ok = {0, 1, 2};
  EXPECT_THROW(embeddingForward(out.data(), bad.data(), wte.data(), wpe.data(),
                                s.B, s.T, s.C, s.V, s.maxT, pool),
               std::out_of_range);
  EXPECT_THROW(embeddingForward(out.data(), neg.data(), wte.data(), wpe.data(),
                                s.B, s.T, s.C, s.V, s.maxT, pool),
               std::out_of_range);
  EXPECT_THROW(embeddingBackward(wte.data(), wpe.data(), out.data(), bad.data(),
                                 s.B, s.T, s.C, s.V, s.maxT, true, pool),
               std::out_of_range);
  EXPECT_THROW(embeddingForward(out.data(), ok.data(), wte.data(), wpe.data(),
                                s.B, s.T, s.C, s.V, 2, pool),
               std::out_of_range);
}

TEST(Embedding, BackwardIsDeterministic) {
  Shape s{4, 64, 200, 50, 64};
  auto tok = tokens(s, 7);
  auto dout = randomVector(s.B * s.T * s.C, 4);
  KernelRun run = [&](ThreadPool &pool) {
    std::vector<float> dwte(s.V * s.C), dwpe(s.maxT * s.C);
    embeddingBackward(dwte.data(), dwpe.data(), dout.data(), tok.data(), s.B,
                      s.T, s.C, s.V, s.maxT, false, pool);
    return concat({&dwte, &dwpe});
  };
  expectIsasAgree(run, 0.0, 0.0, "embedding backward");
  expectDeterministic(run, "embedding backward");
}

} // namespace
} // namespace gpt::cpu::test
