//===- SpecialTokensTest.cpp ----------------------------------------------===//
#include "TestData.h"

#include <gtest/gtest.h>

namespace gpt::tokenizer {
namespace {
using testing::gpt2;

TEST(SpecialTokens, NeverProducedFromPlainText) {
  std::string text = "a<|endoftext|>b<|im_start|>user\n<|im_end|>";
  for (TokenId id : gpt2().encode(text))
    EXPECT_FALSE(gpt2().isSpecial(id)) << id;
  EXPECT_EQ(gpt2().encode("<|endoftext|>"),
            (std::vector<TokenId>{27, 91, 437, 1659, 5239, 91, 29}));
}

TEST(SpecialTokens, ParsedWhenAsked) {
  auto ids = gpt2().encodeWithSpecial("Hello world<|endoftext|><|im_start|>x");
  std::vector<TokenId> want = {15496, 995, 50256, 50257};
  auto x = gpt2().encode("x");
  want.insert(want.end(), x.begin(), x.end());
  EXPECT_EQ(ids, want);
  EXPECT_EQ(gpt2().decode(ids), "Hello world<|endoftext|><|im_start|>x");
  EXPECT_EQ(gpt2().encodeWithSpecial("<|im_end|>"),
            (std::vector<TokenId>{50258}));
  EXPECT_EQ(gpt2().encodeWithSpecial("no specials"),
            gpt2().encode("no specials"));
}

TEST(SpecialTokens, UnknownIdIsAnError) {
  EXPECT_THROW(gpt2().decode({50259}), std::out_of_range);
  EXPECT_THROW(gpt2().requireSpecial("<|nope|>"), std::runtime_error);
}

} // namespace
} // namespace gpt::tokenizer
