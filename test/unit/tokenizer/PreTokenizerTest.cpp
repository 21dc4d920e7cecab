//===- PreTokenizerTest.cpp -----------------------------------------------===//
#include "runtime/tokenizer/PreTokenizer.h"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace gpt::tokenizer {
namespace {

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  for (auto p : splitPieces(s))
    out.emplace_back(p);
  return out;
}
using V = std::vector<std::string>;

TEST(PreTokenizer, WordsNumbersPunctuation) {
  EXPECT_EQ(split("Hello world, 123 foo!!"),
            (V{"Hello", " world", ",", " 123", " foo", "!!"}));
}

TEST(PreTokenizer, Contractions) {
  EXPECT_EQ(split("I'm you'll it's"),
            (V{"I", "'m", " you", "'ll", " it", "'s"}));
  // Case-sensitive, as in GPT-2.
  EXPECT_EQ(split("IT'S"), (V{"IT", "'", "S"}));
  EXPECT_EQ(split("'''s"), (V{"'''", "s"}));
}

TEST(PreTokenizer, WhitespaceRuns) {
  EXPECT_EQ(split("a  b"), (V{"a", " ", " b"}));
  EXPECT_EQ(split("a   "), (V{"a", "   "}));
  EXPECT_EQ(split("a\n\nb"), (V{"a", "\n", "\n", "b"}));
  EXPECT_EQ(split("a\n\n b"), (V{"a", "\n\n", " b"}));
  EXPECT_EQ(split(" "), (V{" "}));
}

TEST(PreTokenizer, UnicodeClasses) {
  // U+0085 (NEL) is whitespace; U+3000 is whitespace; CJK are letters.
  EXPECT_EQ(split("a \xC2\x85"
                  "b"),
            (V{"a", " ", "\xC2\x85", "b"}));
  EXPECT_EQ(split("\xE4\xB8\xAD\xE6\x96\x87 \xE3\x80\x80x"),
            (V{"\xE4\xB8\xAD\xE6\x96\x87", " ", "\xE3\x80\x80", "x"}));
  // Superscript two is a number (No), U+001C is not whitespace.
  EXPECT_EQ(split("x\xC2\xB2"), (V{"x", "\xC2\xB2"}));
  EXPECT_EQ(split("a\x1C"
                  "b"),
            (V{"a", "\x1C", "b"}));
}

TEST(PreTokenizer, InvalidUtf8IsOther) {
  EXPECT_EQ(split("ab\xFF\xFE cd"), (V{"ab", "\xFF\xFE", " cd"}));
  EXPECT_EQ(split("\xC3"), (V{"\xC3"}));
}

TEST(PreTokenizer, SafeCutPointsDoNotChangeTheSplit) {
  std::string text;
  for (int i = 0; i < 200; ++i)
    text += "Line " + std::to_string(i) + ":\n\n  indented\n";
  auto whole = split(text);
  auto cuts = safeCutPoints(text, 4);
  ASSERT_EQ(cuts.size(), 3u);
  V joined;
  std::size_t prev = 0;
  cuts.push_back(text.size());
  for (std::size_t c : cuts) {
    auto part = split(std::string_view(text).substr(prev, c - prev));
    joined.insert(joined.end(), part.begin(), part.end());
    prev = c;
  }
  EXPECT_EQ(joined, whole);
}

} // namespace
} // namespace gpt::tokenizer
