//===- ChatJsonlTest.cpp --------------------------------------------------===//
#include "runtime/data/ChatJsonl.h"
#include "TempDir.h"
#include "runtime/data/DataError.h"

#include <gtest/gtest.h>

namespace gpt::data {
namespace {
using testing::TempDir;

const char *kGood =
    R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]})";

// Writes a file whose line 3 is `bad` and returns the error message.
std::string errorFor(const TempDir &dir, const std::string &bad) {
  auto p = dir.write("chat.jsonl",
                     std::string(kGood) + "\n\n" + bad + "\n" + kGood + "\n");
  try {
    readChatJsonl(p, false);
  } catch (const DataError &e) {
    return e.what();
  }
  return "no error";
}

struct Case {
  const char *line;
  const char *expect;
};

TEST(ChatJsonl, EachErrorNamesFileAndLine) {
  TempDir dir;
  const Case cases[] = {
      {R"({"messages":[{"role":"user","content":"hi"})", "malformed JSON"},
      {R"([1,2])", "expected a JSON object"},
      {R"({"msgs":[]})", "missing \"messages\""},
      {R"({"messages":{}})", "\"messages\" must be an array"},
      {R"({"messages":[]})", "\"messages\" is empty"},
      {R"({"messages":[{"role":"bot","content":"x"}]})",
       "messages[0]: unknown role \"bot\""},
      {R"({"messages":[{"content":"x"}]})", "messages[0] has no \"role\""},
      {R"({"messages":[{"role":"user","content":"a"},{"role":"assistant","content":42}]})",
       "messages[1].content is not a string"},
      {R"({"messages":[{"role":"user","content":null}]})",
       "messages[0].content is not a string"},
      {R"({"messages":[{"role":"user"}]})", "messages[0] has no \"content\""},
      {R"({"messages":["hi"]})", "messages[0] is not an object"},
      {R"({"messages":[{"role":"user","content":"a","weight":1}]})",
       "weight is only allowed on assistant"},
      {R"({"messages":[{"role":"assistant","content":"a","weight":2}]})",
       "weight must be 0 or 1"},
  };
  std::string prefix = (dir.path() / "chat.jsonl").string() + ":3: ";
  for (const Case &c : cases) {
    std::string e = errorFor(dir, c.line);
    EXPECT_EQ(e.rfind(prefix, 0), 0u) << c.line << " -> " << e;
    EXPECT_NE(e.find(c.expect), std::string::npos) << c.line << " -> " << e;
  }
}

TEST(ChatJsonl, ParsesMessagesAndWeights) {
  TempDir dir;
  auto p = dir.write(
      "c.jsonl",
      std::string(kGood) + "\n" +
          R"({"messages":[{"role":"system","content":"s"},{"role":"assistant","content":"no","weight":0}],"extra":1})" +
          "\n");
  ChatFile f = readChatJsonl(p, false);
  ASSERT_EQ(f.conversations.size(), 2u);
  EXPECT_EQ(f.conversations[1].line, 2u);
  EXPECT_EQ(f.conversations[0].messages[1].content, "yo");
  EXPECT_EQ(f.conversations[1].messages[0].role, tokenizer::Role::System);
  EXPECT_FALSE(f.conversations[1].messages[1].train);
}

TEST(ChatJsonl, SkipBadSkipsAndReports) {
  TempDir dir;
  auto p = dir.write("c.jsonl",
                     std::string(kGood) + "\n{oops\n" + kGood + "\n" +
                         R"({"messages":[{"role":"x","content":""}]})" + "\n");
  ChatFile f = readChatJsonl(p, true);
  EXPECT_EQ(f.conversations.size(), 2u);
  ASSERT_EQ(f.skipped.size(), 2u);
  EXPECT_NE(f.skipped[0].find("c.jsonl:2: malformed JSON"), std::string::npos);
  EXPECT_NE(f.skipped[1].find("c.jsonl:4: messages[0]: unknown role"),
            std::string::npos);
}

} // namespace
} // namespace gpt::data
