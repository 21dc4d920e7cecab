//===- PrepareTest.cpp ----------------------------------------------------===//
#include "runtime/data/Prepare.h"
#include "TempDir.h"
#include "runtime/data/ChatJsonl.h"
#include "runtime/data/DataError.h"
#include "runtime/data/Shard.h"
#include "runtime/io/FileIO.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace gpt::data {
namespace {
namespace fs = std::filesystem;
using testing::shared;
using testing::TempDir;
using tokenizer::TokenId;
using tokenizer::Tokenizer;

const Tokenizer &gpt2() {
  static const Tokenizer t = Tokenizer::load(GPT_SHARED_DATA_DIR);
  return t;
}

PrepareOptions options(const TempDir &dir, std::vector<fs::path> inputs) {
  PrepareOptions o;
  o.inputs = std::move(inputs);
  o.tokenizer = GPT_SHARED_DATA_DIR;
  o.outDir = dir.path() / "out";
  o.valFraction = 0.1;
  o.seed = 7;
  return o;
}

struct SplitData {
  std::vector<TokenId> tokens;
  std::vector<std::uint8_t> weights;
};

SplitData readSplit(const fs::path &dir, const SplitStats &s) {
  SplitData d;
  for (const ShardEntry &e : s.shards) {
    ShardReader r(dir / e.file);
    EXPECT_EQ(r.size(), e.tokens);
    for (std::uint64_t i = 0; i < r.size(); ++i) {
      d.tokens.push_back(r.token(i));
      d.weights.push_back(r.weight(i));
    }
  }
  EXPECT_EQ(d.tokens.size(), s.tokens);
  return d;
}

TEST(Prepare, TinyShakespeareLastTenthIsVal) {
  TempDir dir;
  auto o = options(dir, {shared("tinyshakespeare.txt")});
  o.shardTokens = 100000; // several train shards
  Manifest m = prepareData(o);
  std::string text = io::readFile(shared("tinyshakespeare.txt"));
  ASSERT_EQ(text.size(), 1115394u);
  EXPECT_EQ(m.kind, "text");
  EXPECT_EQ(m.train.textBytes, 1003854u); // floor(0.9 * 1115394)
  EXPECT_EQ(m.val.textBytes, 111540u);
  EXPECT_EQ(m.train.documents, 1u);
  EXPECT_EQ(m.train.shards.size(), (m.train.tokens + 99999) / 100000);
  EXPECT_EQ(m.tokenDtype, "uint16");
  EXPECT_EQ(m.tokenizerFingerprint, gpt2().fingerprint());
  SplitData train = readSplit(o.outDir, m.train);
  SplitData val = readSplit(o.outDir, m.val);
  EXPECT_EQ(gpt2().decode(train.tokens), text.substr(0, 1003854));
  EXPECT_EQ(gpt2().decode(val.tokens), text.substr(1003854));
  EXPECT_EQ(train.tokens, gpt2().encode(text.substr(0, 1003854)));
  EXPECT_EQ(m.train.trainedTokens, m.train.tokens);
  // The manifest on disk says the same.
  Manifest onDisk = Manifest::load(o.outDir);
  EXPECT_EQ(onDisk.toJson(), m.toJson());
  // No temporary files are left behind.
  for (const auto &e : fs::directory_iterator(o.outDir))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos);
}

// Walks a ChatML token stream and checks that exactly the assistant
// content tokens and their <|im_end|> carry weight 1. Returns the number of
// assistant turns.
std::size_t checkAssistantOnly(const SplitData &d) {
  TokenId imStart = gpt2().requireSpecial(tokenizer::kImStart);
  TokenId imEnd = gpt2().requireSpecial(tokenizer::kImEnd);
  std::size_t turns = 0;
  std::size_t i = 0;
  while (i < d.tokens.size()) {
    if (d.tokens[i] != imStart) {
      EXPECT_EQ(d.weights[i], 0) << "outside a turn at " << i;
      ++i;
      continue;
    }
    EXPECT_EQ(d.weights[i], 0);
    ++i;
    std::string header;
    while (i < d.tokens.size() && header.find('\n') == std::string::npos) {
      EXPECT_EQ(d.weights[i], 0) << "role header at " << i;
      header += gpt2().decode({d.tokens[i++]});
    }
    bool assistant = header == "assistant\n";
    turns += assistant;
    for (; i < d.tokens.size() && d.tokens[i] != imEnd; ++i)
      EXPECT_EQ(d.weights[i], assistant ? 1 : 0) << header << " at " << i;
    EXPECT_LT(i, d.tokens.size());
    EXPECT_EQ(d.weights[i], assistant ? 1 : 0);
    ++i;
  }
  return turns;
}

struct Counted {
  std::size_t conversations = 0, messages = 0, assistant = 0;
};
Counted countByHand(const fs::path &p) {
  Counted c;
  std::string data = io::readFile(p);
  std::size_t pos = 0;
  while (pos < data.size()) {
    std::size_t eol = data.find('\n', pos);
    auto j = nlohmann::json::parse(data.substr(pos, eol - pos));
    pos = eol + 1;
    ++c.conversations;
    for (const auto &m : j.at("messages")) {
      ++c.messages;
      c.assistant += m.at("role") == "assistant";
    }
  }
  return c;
}

void checkChatFile(const std::string &name, std::size_t conversations,
                   std::size_t messages) {
  TempDir dir;
  auto o = options(dir, {shared(name)});
  Manifest m = prepareData(o);
  Counted c = countByHand(shared(name));
  ASSERT_EQ(c.conversations, conversations);
  ASSERT_EQ(c.messages, messages);
  EXPECT_EQ(m.kind, "chat");
  std::size_t wantVal =
      static_cast<std::size_t>(std::llround(conversations * 0.1));
  EXPECT_EQ(m.val.documents, wantVal);
  EXPECT_EQ(m.train.documents + m.val.documents, conversations);
  EXPECT_EQ(m.inputs.at(0).documents, conversations);
  SplitData train = readSplit(o.outDir, m.train);
  SplitData val = readSplit(o.outDir, m.val);
  std::size_t turns = checkAssistantOnly(train) + checkAssistantOnly(val);
  EXPECT_EQ(turns, c.assistant);
  std::uint64_t weighted = 0;
  for (auto w : train.weights)
    weighted += w;
  EXPECT_EQ(weighted, m.train.trainedTokens);
  EXPECT_GT(m.train.trainedTokens, 0u);
  EXPECT_LT(m.train.trainedTokens, m.train.tokens);
  // One <|endoftext|> per conversation.
  std::size_t eots = 0;
  for (TokenId t : train.tokens)
    eots += t == m.eotId;
  EXPECT_EQ(eots, m.train.documents);
  // Same seed, same split; another seed, another split.
  TempDir dir2;
  auto o2 = options(dir2, {shared(name)});
  EXPECT_EQ(prepareData(o2).toJson()["splits"], m.toJson()["splits"]);
  o2.seed = 8;
  EXPECT_NE(prepareData(o2).toJson()["splits"], m.toJson()["splits"]);
}

TEST(Prepare, DollyChat) {
  checkChatFile("dolly_open_qa_chat_train.jsonl", 3555, 3555 * 3);
}

TEST(Prepare, Oasst1ChineseMultiTurnChat) {
  checkChatFile("oasst1_zh_chat.jsonl", 689, 2965);
}

TEST(Prepare, BadLineFailsAndWritesNothing) {
  TempDir dir;
  std::string good =
      R"({"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]})";
  auto p = dir.write(
      "c.jsonl", good + "\n" + good + "\n" +
                     R"({"messages":[{"role":"robot","content":"x"}]})" + "\n");
  auto o = options(dir, {p});
  try {
    prepareData(o);
    FAIL() << "expected an error";
  } catch (const DataError &e) {
    EXPECT_NE(
        std::string(e.what()).find("c.jsonl:3: messages[0]: unknown role"),
        std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(o.outDir));
  // --skip-bad: skips and counts.
  o.skipBad = true;
  std::vector<std::string> logged;
  o.log = [&](const std::string &s) { logged.push_back(s); };
  Manifest m = prepareData(o);
  EXPECT_EQ(m.skippedLines, 1u);
  EXPECT_EQ(m.train.documents + m.val.documents, 2u);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("c.jsonl:3:"), std::string::npos);
}

TEST(Prepare, OptionErrors) {
  TempDir dir;
  auto txt = dir.write("a.txt", "hello");
  auto chat = dir.write("b.jsonl", "");
  EXPECT_THROW(prepareData(options(dir, {})), DataError);
  EXPECT_THROW(prepareData(options(dir, {txt, chat})), DataError);
  EXPECT_THROW(prepareData(options(dir, {dir.path() / "missing.txt"})),
               DataError);
  auto o = options(dir, {txt});
  o.valFraction = 1.0;
  EXPECT_THROW(prepareData(o), DataError);
  o.valFraction = 0.1;
  o.tokenizer = dir.path();
  EXPECT_THROW(prepareData(o), DataError);
  EXPECT_FALSE(fs::exists(o.outDir));
}

TEST(Prepare, ValInputIsTheValSplit) {
  // --val-input: the given files are val, every input is train, nothing is
  // shuffled between them.
  TempDir dir;
  auto conv = [](const std::string &q, const std::string &a) {
    return R"({"messages":[{"role":"user","content":")" + q +
           R"("},{"role":"assistant","content":")" + a + "\"}]}\n";
  };
  auto train = dir.write("train.jsonl", conv("one", "1") + conv("two", "2") +
                                            conv("three", "3"));
  auto val = dir.write("valid.jsonl", conv("four", "4") + conv("five", "5"));
  auto o = options(dir, {train});
  o.valInputs = {val};
  o.valFraction = 0;
  Manifest m = prepareData(o);
  EXPECT_EQ(m.train.documents, 3u);
  EXPECT_EQ(m.val.documents, 2u);
  ASSERT_EQ(m.inputs.size(), 2u);
  EXPECT_EQ(m.inputs[0].split, "train");
  EXPECT_EQ(m.inputs[1].split, "val");
  EXPECT_EQ(m.inputs[1].documents, 2u);
  std::string valText = gpt2().decode(readSplit(o.outDir, m.val).tokens);
  std::string trainText = gpt2().decode(readSplit(o.outDir, m.train).tokens);
  for (const char *word : {"four", "five"}) {
    EXPECT_NE(valText.find(word), std::string::npos) << word;
    EXPECT_EQ(trainText.find(word), std::string::npos) << word;
  }
  for (const char *word : {"one", "two", "three"})
    EXPECT_NE(trainText.find(word), std::string::npos) << word;
  // The manifest keeps which input went where.
  Manifest back = Manifest::fromJson(m.toJson(), "m");
  EXPECT_EQ(back.inputs[1].split, "val");
  auto bad = m.toJson();
  bad["inputs"][1]["split"] = "test";
  EXPECT_THROW(Manifest::fromJson(bad, "m"), DataError);
  // Text files too: each file is one document of its split.
  auto t1 = dir.write("a.txt", "alpha"), t2 = dir.write("b.txt", "beta");
  auto ot = options(dir, {t1});
  ot.outDir = dir.path() / "text";
  ot.valInputs = {t2};
  ot.valFraction = 0;
  Manifest mt = prepareData(ot);
  EXPECT_EQ(mt.train.documents, 1u);
  EXPECT_EQ(mt.val.documents, 1u);
  EXPECT_NE(gpt2().decode(readSplit(ot.outDir, mt.val).tokens).find("beta"),
            std::string::npos);
}

TEST(Prepare, ValInputErrors) {
  TempDir dir;
  auto chat = dir.write(
      "c.jsonl",
      R"({"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]})"
      "\n");
  auto txt = dir.write("v.txt", "text");
  auto o = options(dir, {chat});
  o.valInputs = {chat};
  o.valFraction = 0.1; // both ways of choosing val: an error
  try {
    prepareData(o);
    FAIL() << "expected an error";
  } catch (const DataError &e) {
    EXPECT_NE(std::string(e.what()).find("--val-fraction must be 0"),
              std::string::npos)
        << e.what();
  }
  o.valFraction = 0;
  o.valInputs = {txt}; // kinds must match
  EXPECT_THROW(prepareData(o), DataError);
  o.valInputs = {dir.path() / "missing.jsonl"};
  try {
    prepareData(o);
    FAIL() << "expected an error";
  } catch (const DataError &e) {
    EXPECT_NE(std::string(e.what()).find("missing.jsonl"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(o.outDir));
}

TEST(Prepare, SeveralTextFilesSplitByDocument) {
  TempDir dir;
  std::vector<fs::path> files;
  for (int i = 0; i < 10; ++i)
    files.push_back(dir.write("doc" + std::to_string(i) + ".txt",
                              "Document number " + std::to_string(i) + ".\n"));
  auto o = options(dir, files);
  o.valFraction = 0.2;
  Manifest m = prepareData(o);
  EXPECT_EQ(m.train.documents, 8u);
  EXPECT_EQ(m.val.documents, 2u);
  SplitData val = readSplit(o.outDir, m.val);
  std::string text = gpt2().decode(val.tokens);
  std::size_t eots = 0;
  for (std::size_t at = text.find("<|endoftext|>"); at != std::string::npos;
       at = text.find("<|endoftext|>", at + 1))
    ++eots;
  EXPECT_EQ(eots, 2u);
  EXPECT_EQ(m.val.textBytes + m.train.textBytes, 10u * 19u);
}

} // namespace
} // namespace gpt::data
