//===- RoundTripTest.cpp --------------------------------------------------===//
//
// decode(encode(x)) == x for arbitrary bytes, including invalid UTF-8.
#include "TestData.h"

#include <gtest/gtest.h>
#include <random>

namespace gpt::tokenizer {
namespace {
using testing::gpt2;

std::string randomBytes(std::mt19937_64 &rng, std::size_t n) {
  std::string s(n, '\0');
  for (char &c : s)
    c = static_cast<char>(rng() & 0xFF);
  return s;
}

// Mostly plausible text with sprinkled multi-byte and broken sequences.
std::string randomTexty(std::mt19937_64 &rng, std::size_t n) {
  static const char *atoms[] = {"a",
                                "b",
                                " ",
                                "  ",
                                "\n",
                                "\n\n",
                                "'s",
                                "'",
                                "7",
                                "12",
                                ".",
                                "\xC3\xA9",
                                "\xE4\xB8\xAD",
                                "\xF0\x9F\x98\x80",
                                "\xC2\x85",
                                "\xE3\x80\x80",
                                "\xC3",
                                "\x80",
                                "\xF0\x9F",
                                "\xED\xA0\x80",
                                "\t",
                                "\r\n",
                                "<|endoftext|>"};
  std::string s;
  while (s.size() < n)
    s += atoms[rng() % (sizeof(atoms) / sizeof(atoms[0]))];
  return s;
}

TEST(RoundTrip, RandomBytes) {
  std::mt19937_64 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    std::string s = randomBytes(rng, rng() % 64);
    ASSERT_EQ(gpt2().decode(gpt2().encode(s)), s) << "case " << i;
  }
}

TEST(RoundTrip, RandomTextLikeBytes) {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 2000; ++i) {
    std::string s = randomTexty(rng, rng() % 80);
    auto ids = gpt2().encode(s);
    for (TokenId id : ids)
      ASSERT_FALSE(gpt2().isSpecial(id));
    ASSERT_EQ(gpt2().decode(ids), s) << "case " << i;
  }
}

TEST(RoundTrip, LongRuns) {
  for (std::string s : {std::string(5000, 'a'), std::string(3000, ' '),
                        std::string(2000, '\xFF'), std::string(1000, '\n')}) {
    EXPECT_EQ(gpt2().decode(gpt2().encode(s)), s);
  }
}

} // namespace
} // namespace gpt::tokenizer
