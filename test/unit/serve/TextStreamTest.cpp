//===- TextStreamTest.cpp -------------------------------------------------===//
#include "runtime/serve/TextStream.h"

#include <gtest/gtest.h>

using gpt::serve::completeUtf8Prefix;
using gpt::serve::sanitizeUtf8;
using gpt::serve::TextStream;

TEST(Utf8, CompletePrefixExcludesUnfinishedCharacter) {
  EXPECT_EQ(completeUtf8Prefix("abc"), 3u);
  EXPECT_EQ(completeUtf8Prefix("ab\xC3"), 2u);
  EXPECT_EQ(completeUtf8Prefix("ab\xC3\xA9"), 4u);
  EXPECT_EQ(completeUtf8Prefix("\xF0\x9F\x98"), 0u);     // 3 of 4 bytes
  EXPECT_EQ(completeUtf8Prefix("\xF0\x9F\x98\x80"), 4u); // 😀
  // Invalid bytes are final (they become U+FFFD), not held back.
  EXPECT_EQ(completeUtf8Prefix("a\xFF"), 2u);
  EXPECT_EQ(completeUtf8Prefix("\xC3("), 2u);
}

TEST(Utf8, SanitizeReplacesInvalidBytes) {
  EXPECT_EQ(sanitizeUtf8("ok \xC3\xA9"), "ok \xC3\xA9");
  EXPECT_EQ(sanitizeUtf8("a\xFF"
                         "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(sanitizeUtf8("\xED\xA0\x80"), // a surrogate
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitizeUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD"); // overlong
}

TEST(TextStream, PassesTextThroughWithoutStops) {
  TextStream s;
  EXPECT_EQ(s.push("Hello"), "Hello");
  EXPECT_EQ(s.push(", world"), ", world");
  EXPECT_EQ(s.finish(), "");
  EXPECT_EQ(s.text(), "Hello, world");
  EXPECT_FALSE(s.stopped());
}

TEST(TextStream, NeverEmitsHalfACharacter) {
  TextStream s;
  EXPECT_EQ(s.push("caf"), "caf");
  EXPECT_EQ(s.push("\xC3"), "");
  EXPECT_EQ(s.push("\xA9!"), "\xC3\xA9!");
  // A 4-byte emoji arriving one byte per token.
  EXPECT_EQ(s.push("\xF0"), "");
  EXPECT_EQ(s.push("\x9F"), "");
  EXPECT_EQ(s.push("\x98"), "");
  EXPECT_EQ(s.push("\x80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(s.text(), "caf\xC3\xA9!\xF0\x9F\x98\x80");
}

TEST(TextStream, UnfinishedCharacterAtTheEndBecomesReplacement) {
  TextStream s;
  EXPECT_EQ(s.push("a\xE2\x82"), "a");
  EXPECT_EQ(s.finish(), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(TextStream, StopSequenceAcrossTokenBoundaries) {
  TextStream s({"END"});
  EXPECT_EQ(s.push("abcE"), "abc");
  EXPECT_EQ(s.push("N"), "");
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.push("Dxyz"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.text(), "abc");
  EXPECT_EQ(s.push("more"), "");
  EXPECT_EQ(s.finish(), "");
  EXPECT_EQ(s.rawEmitted(), 3u);
}

TEST(TextStream, FalseStopPrefixIsReleased) {
  TextStream s({"END"});
  EXPECT_EQ(s.push("E"), "");
  EXPECT_EQ(s.push("N"), "");
  EXPECT_EQ(s.push("x"), "ENx");
  EXPECT_EQ(s.push("EN"), "");
  EXPECT_EQ(s.finish(), "EN");
  EXPECT_EQ(s.text(), "ENxEN");
  EXPECT_FALSE(s.stopped());
}

TEST(TextStream, StopInsideOneToken) {
  TextStream s({"\n\n"});
  EXPECT_EQ(s.push("a\n\nb"), "a");
  EXPECT_TRUE(s.stopped());
}

TEST(TextStream, EarliestOfSeveralStopsWins) {
  TextStream s({"world", "o"});
  EXPECT_EQ(s.push("hello world"), "hell");
  EXPECT_TRUE(s.stopped());
}

TEST(TextStream, OverlappingStopPrefixes) {
  // "aab" must be found in "aaab" even though the first "aa" fails.
  TextStream s({"aab"});
  std::string out;
  for (char c : std::string("xaaab"))
    out += s.push(std::string(1, c));
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(out, "xa");
}

TEST(TextStream, MultibyteStopSplitAcrossTokens) {
  TextStream s({"\xC3\xA9t\xC3\xA9"}); // "été"
  std::string out;
  for (const char *piece : {"un ", "\xC3", "\xA9", "t", "\xC3", "\xA9", "!"})
    out += s.push(piece);
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(out, "un ");
}

TEST(TextStream, EmptyStopStringsAreIgnored) {
  TextStream s({""});
  EXPECT_EQ(s.push("abc"), "abc");
  EXPECT_FALSE(s.stopped());
}
