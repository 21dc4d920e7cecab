//===- SynthTest.cpp ------------------------------------------------------===//
//
// The synthetic chat dataset: determinism, split disjointness, format, and
// every task's answers recomputed here from the question text.
#include "runtime/synth/Synth.h"

#include "runtime/data/ChatJsonl.h"
#include "runtime/io/FileIO.h"

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

Dataset make(std::size_t train, std::size_t heldout, std::uint64_t seed,
             std::size_t valid = 200) {
  SynthOptions o;
  o.train = train;
  o.heldout = heldout;
  o.valid = valid;
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

bool endsWith(const std::string &s, const std::string &tail) {
  return s.size() >= tail.size() &&
         s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

/// The list after the question's last ": " or "：" (or inside quotes),
/// trailing punctuation removed.
std::string listPart(const std::string &q) {
  auto quote = q.find('"');
  if (quote != std::string::npos)
    return q.substr(quote + 1, q.rfind('"') - quote - 1);
  std::string s;
  auto colon = q.rfind(": "), wide = q.rfind("：");
  if (wide != std::string::npos && (colon == std::string::npos || wide > colon))
    s = q.substr(wide + std::string("：").size());
  else if (colon != std::string::npos)
    s = q.substr(colon + 2);
  for (bool again = true; again;) {
    again = false;
    for (const char *p : {"?", ".", "？", "。"})
      if (endsWith(s, p)) {
        s.erase(s.size() - std::string(p).size());
        again = true;
      }
  }
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

std::string sortedJoin(std::vector<std::string> items) {
  std::sort(items.begin(), items.end());
  std::string out;
  for (const auto &x : items)
    out += (out.empty() ? "" : ",") + x;
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

/// All user turns, one per line.
std::string questions(const Example &e) {
  std::string q;
  for (const std::string &u : turns(e, "user"))
    q += u + "\n";
  return q;
}

std::string addKey(int a, int b) {
  return "add:" + std::to_string(std::min(a, b)) + "," +
         std::to_string(std::max(a, b));
}
std::string subKey(int a, int b) {
  return "sub:" + std::to_string(a) + "," + std::to_string(b);
}

bool hasWord(const std::string &q, const std::string &w) {
  return std::regex_search(q, std::regex("(^|[^a-z])" + w + "($|[^a-z])"));
}

/// What the test reads from one example's text: the canonical keys of the
/// problems its assistant turns answer (computed here, independently of
/// the generator, from the questions and answers) and, when something is
/// wrong (a wrong answer, an unparsable question), why.
struct Reading {
  std::vector<std::string> problems;
  std::string why;
};

Reading read(const Example &e) {
  Reading r;
  auto qs = turns(e, "user");
  auto as = turns(e, "assistant");
  if (qs.empty() || as.size() != qs.size())
    return {{}, "turns do not alternate"};
  const std::string &q = qs.back();
  const std::string &a = as.back();
  auto expect = [&](const std::string &want) {
    if (a != want)
      r.why = "answer '" + a + "', expected '" + want + "'";
    return r;
  };
  auto fail = [&](const std::string &why) { return Reading{{}, why}; };
  const bool zh = endsWith(e.task, "_zh");
  const std::string task = zh ? e.task.substr(0, e.task.size() - 3) : e.task;
  if (task == "add") {
    auto n = numbers(q);
    if (n.size() != 2)
      return fail("numbers");
    r.problems = {addKey(n[0], n[1])};
    return expect(std::to_string(n[0] + n[1]));
  }
  if (task == "sub") {
    auto n = numbers(q);
    if (n.size() != 2)
      return fail("numbers");
    int hi = std::max(n[0], n[1]), lo = std::min(n[0], n[1]);
    r.problems = {subKey(hi, lo)};
    return expect(std::to_string(hi - lo));
  }
  if (task == "compare") {
    auto n = numbers(q);
    if (n.size() != 2 || n[0] == n[1])
      return fail("numbers");
    bool larger =
        zh ? has(q, "大")
           : has(q, "larger") || has(q, "bigger") || has(q, "greater");
    bool smaller = zh ? has(q, "小") : has(q, "smaller") || has(q, "less");
    if (larger == smaller)
      return fail("direction");
    r.problems = {"compare:" + std::to_string(std::min(n[0], n[1])) + "," +
                  std::to_string(std::max(n[0], n[1]))};
    return expect(
        std::to_string(larger ? std::max(n[0], n[1]) : std::min(n[0], n[1])));
  }
  if (task == "next") {
    auto n = numbers(q);
    if (n.size() != 1)
      return fail("numbers");
    bool up = zh ? has(q, "下一个") || has(q, "后面") || has(q, "大一")
                 : has(q, "after") || has(q, "more") || has(q, "up");
    bool down = zh ? has(q, "前一个") || has(q, "前面") || has(q, "小一")
                   : has(q, "before") || has(q, "less") || has(q, "down");
    if (up == down)
      return fail("direction");
    r.problems = {up ? addKey(n[0], 1) : subKey(n[0], 1)};
    return expect(std::to_string(up ? n[0] + 1 : n[0] - 1));
  }
  if (task == "followup") {
    if (qs.size() != 2)
      return fail("expected two turns");
    auto n1 = numbers(qs[0]), n2 = numbers(qs[1]);
    if (n1.size() != 2 || n2.size() != 1)
      return fail("numbers");
    int sum = n1[0] + n1[1];
    if (as[0] != std::to_string(sum))
      return fail("first answer " + as[0]);
    bool plus = zh ? has(qs[1], "加") : has(qs[1], "add") || has(qs[1], "plus");
    bool minus = zh ? has(qs[1], "减")
                    : has(qs[1], "subtract") || has(qs[1], "take") ||
                          has(qs[1], "minus");
    if (plus == minus)
      return fail("direction");
    int c = n2[0];
    int result = plus ? sum + c : sum - c;
    if (result < 0)
      return fail("negative result");
    r.problems = {addKey(n1[0], n1[1]), plus ? addKey(sum, c) : subKey(sum, c)};
    return expect(std::to_string(result));
  }
  if (task == "count_words") {
    auto ws = split(listPart(q), ' ');
    r.problems = {"count_words:" + sortedJoin(ws)};
    return expect(std::to_string(ws.size()));
  }
  if (task == "count_letters") {
    // The word is the question's only ASCII word in Chinese; in English,
    // the one the generator names must be in the question.
    std::string w;
    if (e.problems.size() == 1 && e.problems[0].rfind("letters:", 0) == 0)
      w = e.problems[0].substr(8);
    if (w.empty() || !hasWord(q, w))
      return fail("word not in question");
    r.problems = {"letters:" + w};
    return expect(std::to_string(w.size()));
  }
  if (task == "spell" || task == "reverse") {
    // The answer spells the word (backwards for reverse): the key follows.
    std::string w;
    for (char c : a)
      if (c != ' ')
        w += c;
    if (task == "reverse")
      std::reverse(w.begin(), w.end());
    if (w.empty() || !(hasWord(q, w) || has(q, spaced(w))))
      return fail("word not in question");
    r.problems = {"letters:" + w};
    std::string want =
        task == "spell" ? spaced(w) : spaced(std::string(w.rbegin(), w.rend()));
    return expect(want);
  }
  if (task == "sort_numbers") {
    std::vector<int> xs = numbers(listPart(q));
    if (xs.size() < 3)
      return fail("too few numbers");
    std::vector<std::string> items;
    for (int x : xs)
      items.push_back(std::to_string(x));
    r.problems = {"sort_numbers:" + sortedJoin(items)};
    std::sort(xs.begin(), xs.end());
    bool down = zh ? has(q, "从大到小")
                   : has(q, "largest to") || has(q, "decreasing") ||
                         has(q, "highest to");
    if (down)
      std::reverse(xs.begin(), xs.end());
    std::string want;
    for (int x : xs)
      want += (want.empty() ? "" : ", ") + std::to_string(x);
    return expect(want);
  }
  if (task == "sort_words") {
    auto ws = split(listPart(q), ',');
    r.problems = {"sort_words:" + sortedJoin(ws)};
    std::sort(ws.begin(), ws.end());
    std::string want;
    for (const auto &w : ws)
      want += (want.empty() ? "" : ", ") + w;
    return expect(want);
  }
  if (task == "facts") {
    // A few facts known here; the rest are checked for consistency across
    // phrasings and languages by the callers.
    static const std::map<std::string, std::string> known = {
        {"en:capital:France", "Paris"}, {"en:capital:Japan", "Tokyo"},
        {"en:opposite:hot", "cold"},    {"en:opposite:up", "down"},
        {"en:color:the sky", "blue"},   {"en:color:grass", "green"},
        {"en:sound:dog", "woof"},       {"en:sound:cow", "moo"},
        {"zh:capital:France", "巴黎"},  {"zh:capital:China", "北京"},
        {"zh:opposite:hot", "冷"},      {"zh:sound:dog", "汪汪"}};
    if (e.problems.size() != 1 || e.problems[0].rfind("fact:", 0) != 0)
      return fail("not a fact key");
    std::string fact = e.problems[0].substr(5);
    std::string subject = fact.substr(fact.find(':') + 1);
    if (!zh && !has(q, subject))
      return fail("subject not in question");
    r.problems = {e.problems[0]};
    auto it = known.find((zh ? "zh:" : "en:") + fact);
    return it == known.end() ? r : expect(it->second);
  }
  return fail("unknown task " + e.task);
}

/// Every problem key of `examples`, read from their text.
std::set<std::string> problemsOf(const std::vector<Example> &examples) {
  std::set<std::string> keys;
  for (const Example &e : examples)
    for (const std::string &k : read(e).problems)
      keys.insert(k);
  return keys;
}

TEST(Synth, SameSeedSameBytes) {
  Dataset a = make(2000, 200, 7), b = make(2000, 200, 7);
  EXPECT_EQ(jsonl(a.train), jsonl(b.train));
  EXPECT_EQ(jsonl(a.heldout), jsonl(b.heldout));
  EXPECT_EQ(jsonl(a.valid), jsonl(b.valid));
  Dataset c = make(2000, 200, 8);
  EXPECT_NE(jsonl(a.train), jsonl(c.train));
  EXPECT_NE(jsonl(a.heldout), jsonl(c.heldout));
  EXPECT_NE(jsonl(a.valid), jsonl(c.valid));
}

TEST(Synth, SplitSizesAreIndependent) {
  // Changing one split's size never changes another split.
  Dataset a = make(1000, 300, 3, 100), b = make(3000, 300, 3, 100),
          c = make(1000, 50, 3, 100), d = make(1000, 300, 3, 400);
  EXPECT_EQ(jsonl(a.heldout), jsonl(b.heldout));
  EXPECT_EQ(jsonl(a.valid), jsonl(b.valid));
  EXPECT_EQ(jsonl(a.train), jsonl(c.train));
  EXPECT_EQ(jsonl(a.valid), jsonl(c.valid));
  EXPECT_EQ(jsonl(a.train), jsonl(d.train));
  EXPECT_EQ(jsonl(a.heldout), jsonl(d.heldout));
  EXPECT_EQ(
      jsonl(std::vector<Example>(b.train.begin(), b.train.begin() + 1000)),
      jsonl(a.train));
}

TEST(Synth, EveryAnswerIsRightAndEveryKeyIsReadFromTheText) {
  Dataset d = make(20000, 1000, 5, 1000);
  std::map<std::string, std::size_t> perTask;
  std::map<std::string, std::string> factAnswers;
  for (const auto *split : {&d.train, &d.heldout, &d.valid})
    for (const Example &e : *split) {
      Reading r = read(e);
      EXPECT_EQ(r.why, "") << gpt::synth::toJsonLine(e);
      // The generator's keys are the ones the text says.
      EXPECT_EQ(r.problems, e.problems) << gpt::synth::toJsonLine(e);
      EXPECT_EQ(e.problems.size(), turns(e, "assistant").size());
      ++perTask[e.task];
      if (e.task == "facts" || e.task == "facts_zh") {
        // A fact has one answer per language, whatever the phrasing.
        auto [it, fresh] = factAnswers.emplace(e.task + e.problems[0],
                                               e.messages.back().content);
        EXPECT_EQ(it->second, e.messages.back().content) << e.problems[0];
      }
    }
  // Every task is generated, English and Chinese.
  for (const std::string &name : gpt::synth::taskNames())
    EXPECT_GT(perTask[name], 50u) << name;
}

// The guarantee of the held-out split, checked on exactly what the
// quickstart trains on (its sizes, seed and task list): every problem of
// every turn of every training conversation, read from the text, is
// compared with every problem of the held-out and validation splits, across
// all tasks and both languages.
TEST(Synth, NoHeldOutProblemAnywhereInTrainingAtQuickstartSizes) {
  SynthOptions o; // the quickstart's defaults: all tasks
  o.train = 50000;
  o.heldout = 500;
  o.valid = 1000;
  o.seed = 1;
  EXPECT_EQ(SynthOptions().train, o.train);
  EXPECT_EQ(SynthOptions().heldout, o.heldout);
  EXPECT_EQ(SynthOptions().valid, o.valid);
  Dataset d = gpt::synth::generate(o);
  ASSERT_EQ(d.train.size(), 50000u);
  ASSERT_EQ(d.heldout.size(), 500u);
  ASSERT_EQ(d.valid.size(), 1000u);
  std::set<std::string> held = problemsOf(d.heldout);
  std::set<std::string> valid = problemsOf(d.valid);
  held.insert(valid.begin(), valid.end());
  ASSERT_GT(held.size(), 100u);
  std::set<std::string> trainQuestions;
  std::size_t checked = 0;
  for (const Example &e : d.train) {
    for (const std::string &k : read(e).problems) {
      EXPECT_FALSE(held.count(k))
          << "held-out problem " << k
          << " in training: " << gpt::synth::toJsonLine(e);
      ++checked;
    }
    trainQuestions.insert(questions(e));
    trainQuestions.insert(turns(e, "user").front());
  }
  EXPECT_GT(checked, 50000u);
  // No held-out conversation's questions occur in training, nor its first
  // question as any training conversation's first (a follow-up turn such
  // as "Now add 2." is only a problem with the turn before it).
  for (const auto *split : {&d.heldout, &d.valid})
    for (const Example &e : *split) {
      EXPECT_FALSE(trainQuestions.count(questions(e))) << questions(e);
      EXPECT_FALSE(trainQuestions.count(turns(e, "user").front()))
          << turns(e, "user").front();
    }
  // Facts are trained, never held out; every other task is held out, in
  // English and Chinese.
  std::set<std::string> heldTasks;
  for (const Example &e : d.heldout)
    heldTasks.insert(e.task);
  for (const gpt::synth::TaskInfo &t : gpt::synth::tasks())
    EXPECT_EQ(heldTasks.count(t.name), t.heldOut ? 1u : 0u) << t.name;
  for (const Example &e : d.valid)
    EXPECT_TRUE(e.task != "facts" && e.task != "facts_zh") << e.task;
}

TEST(Synth, NoHeldOutProblemInTrainingOtherSeeds) {
  for (std::uint64_t seed : {2, 3, 17}) {
    Dataset d = make(20000, 500, seed, 500);
    std::set<std::string> held = problemsOf(d.heldout);
    std::set<std::string> valid = problemsOf(d.valid);
    held.insert(valid.begin(), valid.end());
    for (const std::string &k : problemsOf(d.train))
      EXPECT_FALSE(held.count(k)) << "seed " << seed << ": " << k;
  }
}

TEST(Synth, ProblemKeysAreSharedAcrossTasksAndLanguages) {
  // One problem, many tasks: 3 + 5 is the same problem asked by add (either
  // order), add_zh, next ("after 3" is 3 + 1) and a follow-up turn.
  Dataset d = make(50000, 0, 1, 0);
  std::map<std::string, std::set<std::string>> tasksOf;
  std::map<std::string, std::set<std::string>> textsOf;
  for (const Example &e : d.train) {
    auto qs = turns(e, "user");
    for (std::size_t i = 0; i < e.problems.size(); ++i) {
      tasksOf[e.problems[i]].insert(e.task);
      textsOf[e.problems[i]].insert(qs[i]);
    }
  }
  std::set<std::string> need = {"add", "add_zh", "next", "followup"};
  bool found = false;
  for (const auto &[key, ts] : tasksOf)
    found =
        found || std::includes(ts.begin(), ts.end(), need.begin(), need.end());
  EXPECT_TRUE(found) << "no problem shared by add, add_zh, next, followup";
  // Swapped operands and both directions of a comparison are one problem.
  bool swapped = false;
  for (const auto &[key, texts] : textsOf)
    if (key.rfind("compare:", 0) == 0) {
      std::set<std::string> orders, directions;
      for (const std::string &t : texts) {
        if (std::any_of(t.begin(), t.end(), [](char c) { return c & 0x80; }))
          continue; // English phrasings only
        auto n = numbers(t);
        orders.insert(n[0] < n[1] ? "up" : "down");
        directions.insert(has(t, "small") || has(t, "less") ? "min" : "max");
      }
      swapped = swapped || (orders.size() == 2 && directions.size() == 2);
    }
  EXPECT_TRUE(swapped);
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

TEST(Synth, WritesAllFilesAtomically) {
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
  EXPECT_EQ(gpt::io::readFile(dir / "sub" / "valid.jsonl"), jsonl(d.valid));
  std::size_t files = 0;
  for (const auto &entry : fs::directory_iterator(dir / "sub")) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 3u); // no temporary files left behind
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
  // Facts are never held out: facts alone give no held-out split.
  o.tasks = {"facts", "facts_zh"};
  try {
    gpt::synth::generate(o);
    FAIL() << "held-out facts accepted";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("held-out"), std::string::npos);
  }
  o.heldout = 0;
  o.valid = 0;
  EXPECT_EQ(gpt::synth::generate(o).train.size(), 300u);
}

TEST(Synth, HeldOutInstancesAreDistinct) {
  // A task whose held-out space is used up leaves the held-out mix, so the
  // quickstart's 500 held-out questions are all different.
  for (std::uint64_t seed : {1, 2, 3}) {
    Dataset d = make(0, 500, seed);
    std::set<std::pair<std::string, std::vector<std::string>>> keys;
    std::map<std::string, std::size_t> perTask;
    for (const Example &e : d.heldout) {
      keys.insert({e.task, e.problems});
      ++perTask[e.task];
    }
    EXPECT_EQ(keys.size(), 500u) << "seed " << seed;
    std::size_t holdable = 0;
    for (const gpt::synth::TaskInfo &t : gpt::synth::tasks())
      holdable += t.heldOut;
    EXPECT_EQ(perTask.size(), holdable);
  }
  // Beyond the held-out space, instances repeat rather than fail.
  EXPECT_EQ(make(0, 5000, 1, 0).heldout.size(), 5000u);
}

} // namespace
