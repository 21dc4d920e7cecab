// The synthetic chat dataset: determinism, split disjointness, format, and
// every task's answers recomputed here from the question text.
#include "synth/Synth.h"

#include "data/ChatJsonl.h"
#include "tokenizer/FileIO.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace {

using gpt::synth::Dataset;
using gpt::synth::Example;
using gpt::synth::SynthOptions;

Dataset make(std::size_t train, std::size_t heldout, std::uint64_t seed) {
  SynthOptions o;
  o.train = train;
  o.heldout = heldout;
  o.seed = seed;
  return gpt::synth::generate(o);
}

std::string jsonl(const std::vector<Example> &xs) {
  std::string s;
  for (const Example &e : xs)
    s += gpt::synth::toJsonLine(e) + "\n";
  return s;
}

std::vector<int> numbers(const std::string &s) {
  std::vector<int> out;
  std::regex re("\\d+");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), re);
       it != std::sregex_iterator(); ++it)
    out.push_back(std::stoi(it->str()));
  return out;
}

/// Case-insensitive substring test.
bool has(std::string s, std::string part) {
  for (std::string *x : {&s, &part})
    for (char &c : *x)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s.find(part) != std::string::npos;
}

std::string spaced(const std::string &w) {
  std::string out;
  for (char c : w) {
    if (!out.empty())
      out += ' ';
    out += c;
  }
  return out;
}

/// The list after the question's last ": " (or inside quotes), trailing
/// punctuation removed.
std::string listPart(const std::string &q) {
  auto quote = q.find('"');
  if (quote != std::string::npos)
    return q.substr(quote + 1, q.rfind('"') - quote - 1);
  std::string s = q.substr(q.rfind(": ") + 2);
  while (!s.empty() && (s.back() == '?' || s.back() == '.'))
    s.pop_back();
  return s;
}

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string x;
  while (std::getline(in, x, sep)) {
    while (!x.empty() && x.front() == ' ')
      x.erase(x.begin());
    if (!x.empty())
      out.push_back(x);
  }
  return out;
}

/// The conversation's questions and answers without the system message.
std::vector<std::string> turns(const Example &e, const char *role) {
  std::vector<std::string> out;
  for (const auto &m : e.messages)
    if (m.role == role)
      out.push_back(m.content);
  return out;
}

/// Recomputes the answer of one example from its question; returns "" when
/// the example is right, else a description of what is wrong.
std::string check(const Example &e) {
  auto qs = turns(e, "user");
  auto as = turns(e, "assistant");
  if (qs.empty() || as.size() != qs.size())
    return "turns do not alternate";
  const std::string &q = qs.back();
  const std::string &a = as.back();
  auto expect = [&](const std::string &want) {
    return a == want ? std::string()
                     : "answer '" + a + "', expected '" + want + "'";
  };
  const std::string key = e.key.substr(e.key.find(':') + 1);
  if (e.task == "add") {
    auto n = numbers(q);
    return n.size() == 2 ? expect(std::to_string(n[0] + n[1])) : "numbers";
  }
  if (e.task == "sub") {
    auto n = numbers(q);
    if (n.size() != 2)
      return "numbers";
    return expect(std::to_string(std::max(n[0], n[1]) - std::min(n[0], n[1])));
  }
  if (e.task == "compare") {
    auto n = numbers(q);
    if (n.size() != 2 || n[0] == n[1])
      return "numbers";
    bool larger = has(q, "larger") || has(q, "bigger") || has(q, "greater");
    bool smaller = has(q, "smaller") || has(q, "less");
    if (larger == smaller)
      return "direction";
    return expect(
        std::to_string(larger ? std::max(n[0], n[1]) : std::min(n[0], n[1])));
  }
  if (e.task == "next") {
    auto n = numbers(q);
    if (n.size() != 1)
      return "numbers";
    bool up = has(q, "after") || has(q, "more") || has(q, "up");
    bool down = has(q, "before") || has(q, "less") || has(q, "down");
    if (up == down)
      return "direction";
    return expect(std::to_string(up ? n[0] + 1 : n[0] - 1));
  }
  if (e.task == "followup") {
    if (qs.size() != 2)
      return "expected two turns";
    auto n1 = numbers(qs[0]), n2 = numbers(qs[1]);
    if (n1.size() != 2 || n2.size() != 1)
      return "numbers";
    if (as[0] != std::to_string(n1[0] + n1[1]))
      return "first answer " + as[0];
    bool plus = has(qs[1], "add") || has(qs[1], "plus");
    bool minus =
        has(qs[1], "subtract") || has(qs[1], "take") || has(qs[1], "minus");
    if (plus == minus)
      return "direction";
    int r = n1[0] + n1[1] + (plus ? n2[0] : -n2[0]);
    if (r < 0)
      return "negative result";
    return expect(std::to_string(r));
  }
  if (e.task == "count_words")
    return expect(std::to_string(split(listPart(q), ' ').size()));
  if (e.task == "count_letters") {
    if (!std::regex_search(q, std::regex("\\b" + key + "\\b")))
      return "word not in question";
    return expect(std::to_string(key.size()));
  }
  if (e.task == "spell") {
    if (!std::regex_search(q, std::regex("\\b" + key + "\\b")))
      return "word not in question";
    return expect(spaced(key));
  }
  if (e.task == "reverse") {
    bool letters = e.key.rfind("letters:", 0) == 0;
    if (!has(q, letters ? spaced(key) : key))
      return "word not in question";
    return expect(spaced(std::string(key.rbegin(), key.rend())));
  }
  if (e.task == "sort_numbers") {
    std::vector<int> xs = numbers(listPart(q));
    if (xs.size() < 3)
      return "too few numbers";
    std::sort(xs.begin(), xs.end());
    bool down =
        has(q, "largest to") || has(q, "decreasing") || has(q, "highest to");
    if (down)
      std::reverse(xs.begin(), xs.end());
    std::string want;
    for (int x : xs)
      want += (want.empty() ? "" : ", ") + std::to_string(x);
    return expect(want);
  }
  if (e.task == "sort_words") {
    auto ws = split(listPart(q), ',');
    std::sort(ws.begin(), ws.end());
    std::string want;
    for (const auto &w : ws)
      want += (want.empty() ? "" : ", ") + w;
    return expect(want);
  }
  if (e.task == "facts") {
    // A few facts known here; the rest are checked for consistency below.
    static const std::map<std::string, std::string> known = {
        {"capital:France", "Paris"}, {"capital:Japan", "Tokyo"},
        {"opposite:hot", "cold"},    {"opposite:up", "down"},
        {"color:the sky", "blue"},   {"color:grass", "green"},
        {"sound:dog", "woof"},       {"sound:cow", "moo"}};
    std::string fact = e.key.substr(0, e.key.find('#'));
    std::string subject = fact.substr(fact.find(':') + 1);
    if (!has(q, subject))
      return "subject not in question";
    auto it = known.find(fact);
    return it == known.end() ? "" : expect(it->second);
  }
  return "unknown task " + e.task;
}

TEST(Synth, SameSeedSameBytes) {
  Dataset a = make(2000, 200, 7), b = make(2000, 200, 7);
  EXPECT_EQ(jsonl(a.train), jsonl(b.train));
  EXPECT_EQ(jsonl(a.heldout), jsonl(b.heldout));
  Dataset c = make(2000, 200, 8);
  EXPECT_NE(jsonl(a.train), jsonl(c.train));
  EXPECT_NE(jsonl(a.heldout), jsonl(c.heldout));
}

TEST(Synth, SplitSizesAreIndependent) {
  // Changing one split's size never changes the other split.
  Dataset a = make(1000, 300, 3), b = make(3000, 300, 3), c = make(1000, 50, 3);
  EXPECT_EQ(jsonl(a.heldout), jsonl(b.heldout));
  EXPECT_EQ(jsonl(a.train), jsonl(c.train));
  EXPECT_EQ(
      std::vector<Example>(b.train.begin(), b.train.begin() + 1000).size(),
      a.train.size());
  EXPECT_EQ(
      jsonl(std::vector<Example>(b.train.begin(), b.train.begin() + 1000)),
      jsonl(a.train));
}

TEST(Synth, HeldOutNeverInTrain) {
  Dataset d = make(50000, 1000, 1);
  ASSERT_EQ(d.train.size(), 50000u);
  ASSERT_EQ(d.heldout.size(), 1000u);
  std::set<std::pair<std::string, std::string>> trainKeys;
  std::set<std::string> trainQuestions;
  for (const Example &e : d.train) {
    trainKeys.insert({e.task, e.key});
    std::string q;
    for (const auto &u : turns(e, "user"))
      q += u + "\n";
    trainQuestions.insert(q);
  }
  for (const Example &e : d.heldout) {
    EXPECT_FALSE(trainKeys.count({e.task, e.key})) << e.task << " " << e.key;
    std::string q;
    for (const auto &u : turns(e, "user"))
      q += u + "\n";
    EXPECT_FALSE(trainQuestions.count(q)) << q;
  }
}

TEST(Synth, HeldOutOperandsAndWordsAreNew) {
  // Arithmetic holds out operand pairs and word tasks hold out words: the
  // held-out pair / word never appears in train, in any phrasing.
  Dataset d = make(50000, 1000, 11);
  std::set<std::string> trainPairs, trainWords;
  auto pairOf = [](const Example &e) {
    auto n = numbers(turns(e, "user").back());
    return e.task + ":" + std::to_string(n[0]) + "," + std::to_string(n[1]);
  };
  auto wordOf = [](const Example &e) {
    return e.key.substr(e.key.find(':') + 1);
  };
  for (const Example &e : d.train) {
    if (e.task == "add" || e.task == "sub")
      trainPairs.insert(pairOf(e));
    if (e.task == "spell" || e.task == "reverse" || e.task == "count_letters")
      trainWords.insert(e.task + ":" + wordOf(e));
  }
  std::size_t checked = 0;
  for (const Example &e : d.heldout) {
    if (e.task == "add" || e.task == "sub") {
      EXPECT_FALSE(trainPairs.count(pairOf(e))) << pairOf(e);
      ++checked;
    }
    if (e.task == "spell" || e.task == "reverse" || e.task == "count_letters") {
      EXPECT_FALSE(trainWords.count(e.task + ":" + wordOf(e))) << wordOf(e);
      ++checked;
    }
  }
  EXPECT_GT(checked, 100u);
}

TEST(Synth, EveryAnswerIsRight) {
  Dataset d = make(20000, 1000, 5);
  std::map<std::string, std::size_t> perTask;
  std::map<std::string, std::string> factAnswers;
  for (const auto *split : {&d.train, &d.heldout})
    for (const Example &e : *split) {
      std::string why = check(e);
      EXPECT_EQ(why, "") << gpt::synth::toJsonLine(e);
      ++perTask[e.task];
      if (e.task == "facts") {
        // The same fact always has the same answer, whatever the phrasing.
        std::string fact = e.key.substr(0, e.key.find('#'));
        auto [it, fresh] = factAnswers.emplace(fact, e.messages.back().content);
        EXPECT_EQ(it->second, e.messages.back().content) << fact;
      }
    }
  // Every task is generated, in both splits.
  for (const std::string &name : gpt::synth::taskNames())
    EXPECT_GT(perTask[name], 100u) << name;
}

TEST(Synth, FormatIsOpenAIChat) {
  Dataset d = make(500, 100, 2);
  std::size_t withSystem = 0, line = 0;
  for (const Example &e : d.train) {
    std::string text = gpt::synth::toJsonLine(e);
    EXPECT_EQ(text.find('\n'), std::string::npos);
    auto j = nlohmann::json::parse(text);
    ASSERT_TRUE(j.is_object());
    ASSERT_TRUE(j["messages"].is_array());
    const auto &ms = j["messages"];
    ASSERT_GE(ms.size(), 2u);
    std::size_t first = 0;
    if (ms[0]["role"] == "system") {
      ++withSystem;
      first = 1;
    }
    for (std::size_t i = first; i < ms.size(); ++i) {
      EXPECT_EQ(ms[i].size(), 2u); // role and content only
      EXPECT_EQ(ms[i]["role"], (i - first) % 2 == 0 ? "user" : "assistant");
      EXPECT_TRUE(ms[i]["content"].is_string());
      EXPECT_FALSE(ms[i]["content"].get<std::string>().empty());
    }
    EXPECT_EQ(ms.back()["role"], "assistant");
    EXPECT_EQ(j["task"], e.task);
    // Our own reader accepts it.
    auto conv = gpt::data::parseChatLine("x.jsonl", ++line, text);
    EXPECT_EQ(conv.messages.size(), ms.size());
  }
  EXPECT_GT(withSystem, 50u);
  EXPECT_LT(withSystem, 250u);
}

TEST(Synth, WritesBothFilesAtomically) {
  namespace fs = std::filesystem;
  fs::path dir =
      fs::temp_directory_path() /
      ("gpt_synth_test_" +
       std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  fs::remove_all(dir);
  Dataset d = make(300, 40, 9);
  gpt::synth::writeDataset(d, dir / "sub");
  EXPECT_EQ(gpt::io::readFile(dir / "sub" / "train.jsonl"), jsonl(d.train));
  EXPECT_EQ(gpt::io::readFile(dir / "sub" / "heldout.jsonl"), jsonl(d.heldout));
  std::size_t files = 0;
  for (const auto &entry : fs::directory_iterator(dir / "sub")) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 2u); // no temporary files left behind
  // Rewriting replaces the files.
  Dataset e = make(10, 5, 10);
  gpt::synth::writeDataset(e, dir / "sub");
  EXPECT_EQ(gpt::io::readFile(dir / "sub" / "train.jsonl"), jsonl(e.train));
  fs::remove_all(dir);
}

TEST(Synth, TaskSelectionAndErrors) {
  SynthOptions o;
  o.train = 300;
  o.heldout = 30;
  o.tasks = {"add", "facts"};
  Dataset d = gpt::synth::generate(o);
  for (const auto *split : {&d.train, &d.heldout})
    for (const Example &e : *split)
      EXPECT_TRUE(e.task == "add" || e.task == "facts") << e.task;
  o.tasks = {"add", "nope"};
  try {
    gpt::synth::generate(o);
    FAIL() << "unknown task accepted";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("sort_words"), std::string::npos);
  }
  o.tasks = {};
  o.systemFraction = 0;
  for (const Example &e : gpt::synth::generate(o).train)
    EXPECT_NE(e.messages.front().role, "system");
}

TEST(Synth, HeldOutInstancesAreDistinct) {
  // A task whose held-out space is used up leaves the held-out mix, so the
  // quickstart's 500 held-out questions are all different.
  for (std::uint64_t seed : {1, 2, 3}) {
    Dataset d = make(0, 500, seed);
    std::set<std::pair<std::string, std::string>> keys;
    std::map<std::string, std::size_t> perTask;
    for (const Example &e : d.heldout) {
      keys.insert({e.task, e.key});
      ++perTask[e.task];
    }
    EXPECT_EQ(keys.size(), 500u) << "seed " << seed;
    EXPECT_EQ(perTask.size(), gpt::synth::taskNames().size());
  }
  // Beyond the held-out space, instances repeat rather than fail.
  EXPECT_EQ(make(0, 5000, 1).heldout.size(), 5000u);
}

} // namespace
