//===- Gpt2ReferenceTest.cpp ----------------------------------------------===//
//
// The GPT-2 tokenizer must reproduce OpenAI's (tiktoken's) ids exactly.
#include "TestData.h"

#include <gtest/gtest.h>

namespace gpt::tokenizer {
namespace {
using testing::gpt2;
using testing::gpt2Reference;

TEST(Gpt2Reference, AllCasesMatchExactly) {
  const auto &cases = gpt2Reference();
  ASSERT_EQ(cases.size(), 324u);
  int failures = 0;
  for (const auto &c : cases) {
    std::vector<TokenId> got = gpt2().encode(c.text);
    EXPECT_EQ(got, c.ids) << "gpt2_reference.jsonl line " << c.line;
    failures += got != c.ids;
  }
  EXPECT_EQ(failures, 0);
}

TEST(Gpt2Reference, DecodeGivesBackTheText) {
  for (const auto &c : gpt2Reference()) {
    EXPECT_EQ(gpt2().decode(c.ids), c.text) << "line " << c.line;
    EXPECT_EQ(gpt2().decode(gpt2().encode(c.text)), c.text)
        << "line " << c.line;
  }
}

TEST(Gpt2Reference, SanityValues) {
  EXPECT_EQ(gpt2().encode("Hello world"), (std::vector<TokenId>{15496, 995}));
  EXPECT_EQ(gpt2().encode("\n\n"), (std::vector<TokenId>{628}));
  EXPECT_TRUE(gpt2().encode("").empty());
}

TEST(Gpt2Reference, VocabularyShape) {
  EXPECT_EQ(gpt2().mergeableSize(), 50256u);
  EXPECT_EQ(gpt2().requireSpecial(kEndOfText), 50256u);
  EXPECT_EQ(gpt2().requireSpecial(kImStart), 50257u);
  EXPECT_EQ(gpt2().requireSpecial(kImEnd), 50258u);
  EXPECT_EQ(gpt2().vocabSize(), 50259u);
  EXPECT_EQ(gpt2().merges().size(), 50000u);
}

TEST(Gpt2Reference, CacheDoesNotChangeResults) {
  // Encode everything twice (second time from the cache) and once after
  // clearing the cache.
  for (int round = 0; round < 3; ++round) {
    if (round == 2)
      Tokenizer::clearThreadCache();
    for (const auto &c : gpt2Reference())
      ASSERT_EQ(gpt2().encode(c.text), c.ids) << "round " << round;
  }
}

} // namespace
} // namespace gpt::tokenizer

// The heap BPE (used for pieces longer than kShortPiece bytes) gives the
// same ids as the quadratic reference on long pieces of every kind: runs
// of one letter, digits, CJK without spaces, random bytes, and every
// reference string glued into one piece.
TEST(Gpt2Bpe, HeapMergesEqualTheQuadraticReference) {
  const gpt::tokenizer::BpeModel &bpe = gpt::tokenizer::testing::gpt2().model();
  std::vector<std::string> pieces = {std::string(3000, 'a'),
                                     std::string(1000, '9'),
                                     "1234567890123456789012345678901234567890"
                                     "12345678901234567890"};
  std::string cjk;
  for (int i = 0; i < 400; ++i)
    cjk += "请问你知道编程语言的历史";
  pieces.push_back(cjk);
  std::string glued;
  for (const auto &c : gpt::tokenizer::testing::gpt2Reference())
    glued += c.text;
  pieces.push_back(glued.substr(0, 20000));
  uint64_t x = 88172645463325252ull;
  std::string noise;
  for (int i = 0; i < 5000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    noise += static_cast<char>("abcab  e\xe4\xb8\xad"[x % 11]);
  }
  pieces.push_back(noise);
  for (const std::string &p : pieces) {
    std::vector<gpt::tokenizer::TokenId> heap, quadratic;
    bpe.encodePieceHeap(p, heap);
    bpe.encodePieceQuadratic(p, quadratic);
    EXPECT_EQ(heap, quadratic) << p.substr(0, 40);
    EXPECT_LT(heap.size(), p.size()) << "no merges happened";
  }
}
