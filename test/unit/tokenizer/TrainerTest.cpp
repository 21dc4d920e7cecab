//===- TrainerTest.cpp ----------------------------------------------------===//
#include "runtime/tokenizer/Trainer.h"
#include "TestData.h"
#include "runtime/io/FileIO.h"

#include <filesystem>
#include <gtest/gtest.h>

namespace gpt::tokenizer {
namespace {
using Merges = std::vector<std::pair<std::string, std::string>>;

Tokenizer trainOn(std::string_view text, std::size_t vocabSize,
                  unsigned threads = 1) {
  BpeTrainer trainer;
  trainer.addText(text, threads);
  TrainOptions opts;
  opts.vocabSize = vocabSize;
  return trainer.train(opts);
}

// Pieces: "aaa" x1, " aaa" x2, " ab" x1.
//   pairs: (a,a)=6 (' ',a)=3 (a,b)=1          -> merge a+a
//   words: [aa,a] [' ',aa,a]x2 [' ',a,b]
//   pairs: (aa,a)=3 (' ',aa)=2 ...            -> merge aa+a
//   words: [aaa] [' ',aaa]x2 [' ',a,b]
//   pairs: (' ',aaa)=2, others 1              -> merge ' '+aaa
// then every pair occurs once (< min count 2): training stops.
TEST(Trainer, HandCheckedMerges) {
  Tokenizer t = trainOn("aaa aaa aaa ab", 256 + 3 + 10);
  EXPECT_EQ(t.merges(), (Merges{{"a", "a"}, {"aa", "a"}, {" ", "aaa"}}));
  EXPECT_EQ(t.mergeableSize(), 259u);
  EXPECT_EQ(t.vocabSize(), 262u);
  EXPECT_EQ(t.model().bytes(256), "aa");
  EXPECT_EQ(t.model().bytes(257), "aaa");
  EXPECT_EQ(t.model().bytes(258), " aaa");
  EXPECT_EQ(t.requireSpecial(kEndOfText), 259u);
  EXPECT_EQ(t.requireSpecial(kImEnd), 261u);
  EXPECT_EQ(t.encode("aaa aaa"), (std::vector<TokenId>{257, 258}));
  // " aaaa": a+a merges leftmost twice -> [' ', aa, aa]; " aa" is no token.
  TokenId space = t.model().byteId(' ');
  EXPECT_EQ(t.encode(" aaaa"), (std::vector<TokenId>{space, 256, 256}));
}

// Equal counts break towards the smaller (left id, right id) pair.
TEST(Trainer, TiesBreakByPairIds) {
  Tokenizer t = trainOn("ab ab cd cd", 256 + 3 + 10);
  EXPECT_EQ(t.merges(), (Merges{{"a", "b"}, {"c", "d"}, {" ", "cd"}}));
}

// --atomic-alnum: no token holds two adjacent ASCII letters or digits, on
// real text with room for many merges; other merges (spaces before a
// letter, CJK bytes) still happen, and text round-trips.
TEST(Trainer, AtomicAlnumNeverJoinsLettersOrDigits) {
  std::string text = io::readFile(std::string(testing::sharedDataDir()) +
                                  "/tinyshakespeare.txt")
                         .substr(0, 100000) +
                     " 12 345 6789 你好你好你好 世界世界世界";
  BpeTrainer trainer;
  trainer.addText(text, 1);
  TrainOptions opts;
  opts.vocabSize = 600;
  opts.atomicAlnum = true;
  Tokenizer t = trainer.train(opts);
  ASSERT_GT(t.merges().size(), 20u); // it still learns merges
  auto alnum = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z');
  };
  bool spaceLetter = false, cjk = false;
  for (TokenId id = 0; id < t.mergeableSize(); ++id) {
    std::string b = t.model().bytes(id);
    for (std::size_t i = 0; i + 1 < b.size(); ++i)
      ASSERT_FALSE(alnum(b[i]) && alnum(b[i + 1])) << "token '" << b << "'";
    spaceLetter |= b.size() == 2 && b[0] == ' ' && alnum(b[1]);
    cjk |= b == "你好" || b == "你" || b == "世界";
  }
  EXPECT_TRUE(spaceLetter);
  EXPECT_TRUE(cjk);
  EXPECT_EQ(t.decode(t.encode(text)), text);
  // Every letter of a word is its own token (a leading space may join).
  EXPECT_EQ(t.encode("melon").size(), 5u);
  EXPECT_EQ(t.encode(" melon").size(), 5u);
  EXPECT_EQ(t.encode("12345").size(), 5u);
}

// --separate-spaces (with --atomic-alnum): a space never joins a letter or
// digit either, so `m` is the same token in "melon", " melon" and "m e".
TEST(Trainer, SeparateSpacesKeepsLettersIdentical) {
  std::string text = io::readFile(std::string(testing::sharedDataDir()) +
                                  "/tinyshakespeare.txt")
                         .substr(0, 100000);
  BpeTrainer trainer;
  trainer.addText(text, 1);
  TrainOptions opts;
  opts.vocabSize = 600;
  opts.atomicAlnum = true;
  opts.separateSpaces = true;
  Tokenizer t = trainer.train(opts);
  ASSERT_GT(t.merges().size(), 5u); // punctuation, newlines still merge
  auto alnum = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z');
  };
  for (TokenId id = 0; id < t.mergeableSize(); ++id) {
    std::string b = t.model().bytes(id);
    for (std::size_t i = 0; i + 1 < b.size(); ++i)
      ASSERT_FALSE((b[i] == ' ' && alnum(b[i + 1])) ||
                   (alnum(b[i]) && b[i + 1] == ' '))
          << "token '" << b << "'";
  }
  EXPECT_EQ(t.decode(t.encode(text)), text);
  std::vector<TokenId> word = t.encode("melon"), spaced = t.encode(" melon"),
                       spelled = t.encode("m e l o n");
  ASSERT_EQ(word.size(), 5u);
  ASSERT_EQ(spaced.size(), 6u);
  ASSERT_EQ(spelled.size(), 9u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(spaced[i + 1], word[i]);
    EXPECT_EQ(spelled[2 * i], word[i]);
  }
}

TEST(Trainer, VocabSizeIsRespected) {
  std::string text = io::readFile(std::string(testing::sharedDataDir()) +
                                  "/tinyshakespeare.txt")
                         .substr(0, 200000);
  Tokenizer t = trainOn(text, 600);
  EXPECT_EQ(t.vocabSize(), 600u);
  EXPECT_EQ(t.decode(t.encode(text)), text);
  EXPECT_LT(t.encode(text).size(), text.size() / 2);
  EXPECT_THROW(trainOn(text, 100), std::invalid_argument);
}

TEST(Trainer, DeterministicAcrossRunsAndThreads) {
  std::string text = io::readFile(std::string(testing::sharedDataDir()) +
                                  "/tinyshakespeare.txt")
                         .substr(0, 300000);
  Tokenizer a = trainOn(text, 1000, 1);
  Tokenizer b = trainOn(text, 1000, 1);
  Tokenizer c = trainOn(text, 1000, 2);
  EXPECT_EQ(a.merges(), b.merges());
  EXPECT_EQ(a.merges(), c.merges());
  EXPECT_EQ(a.fingerprint(), c.fingerprint());
}

TEST(Trainer, SaveAndLoadRoundTrip) {
  std::string text = io::readFile(std::string(testing::sharedDataDir()) +
                                  "/tinyshakespeare.txt")
                         .substr(0, 100000);
  Tokenizer t = trainOn(text, 500);
  auto dir =
      std::filesystem::temp_directory_path() /
      ("gpt_tok_test_" +
       std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::remove_all(dir);
  t.save(dir);
  Tokenizer u = Tokenizer::load(dir);
  EXPECT_EQ(u.fingerprint(), t.fingerprint());
  EXPECT_EQ(u.vocabSize(), 500u);
  EXPECT_EQ(u.encode(text), t.encode(text));
  EXPECT_EQ(u.requireSpecial(kImStart), t.requireSpecial(kImStart));
  std::filesystem::remove_all(dir);
}

TEST(Tokenizer, LoadErrorsNameThePath) {
  try {
    Tokenizer::load("/nonexistent/tok");
    FAIL();
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tok"),
              std::string::npos);
  }
}

} // namespace
} // namespace gpt::tokenizer
