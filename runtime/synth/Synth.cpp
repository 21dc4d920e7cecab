#include "synth/Synth.h"

#include "synth/Tasks.h"
#include "tokenizer/FileIO.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <utility>

namespace gpt::synth {
namespace {

using detail::Instance;
using detail::Rng;
using detail::TaskDef;

/// Per mille of hold keys that go to the held-out split.
constexpr std::uint64_t kHeldOutPermille = 150;
/// Draws before a split gives up finding a new instance of a task.
constexpr int kMaxTries = 10000;

std::uint64_t fnv1a64(const std::string &s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

bool isHeldOut(const Instance &in, const std::string &task,
               std::uint64_t seed) {
  Rng mix(seed ^ fnv1a64(task + '\0' + in.holdKey));
  std::uint64_t h = mix.next();
  if (in.holdSlots > 0)
    return static_cast<int>(h % static_cast<std::uint64_t>(in.holdSlots)) ==
           in.holdSlot;
  return h % 1000 < kHeldOutPermille;
}

struct Mix {
  std::vector<const TaskDef *> tasks;
  std::vector<double> cumulative; // cumulative weights
  bool exhausted = false;         // every task was removed: repeats allowed

  /// Drops `task`; when none is left, restores them all and sets exhausted.
  void remove(const TaskDef &task) {
    std::vector<const TaskDef *> keep;
    for (const TaskDef *t : tasks)
      if (t != &task)
        keep.push_back(t);
    if (keep.empty()) {
      exhausted = true;
      return;
    }
    tasks = keep;
    cumulative.clear();
    double sum = 0;
    for (const TaskDef *t : tasks)
      cumulative.push_back(sum += t->info.weight);
  }
  const TaskDef &pick(Rng &rng) const {
    double x = static_cast<double>(rng.below(1u << 30)) /
               static_cast<double>(1u << 30) * cumulative.back();
    for (std::size_t i = 0; i < tasks.size(); ++i)
      if (x < cumulative[i])
        return *tasks[i];
    return *tasks.back();
  }
};

Mix makeMix(const std::vector<std::string> &names) {
  Mix mix;
  for (const TaskDef &t : detail::taskDefs())
    if (names.empty() ||
        std::find(names.begin(), names.end(), t.info.name) != names.end())
      mix.tasks.push_back(&t);
  for (const std::string &n : names) {
    bool known = false;
    for (const TaskDef &t : detail::taskDefs())
      known = known || t.info.name == n;
    if (!known) {
      std::string all;
      for (const std::string &k : taskNames())
        all += (all.empty() ? "" : ", ") + k;
      throw std::invalid_argument("unknown synthetic task '" + n +
                                  "' (known: " + all + ")");
    }
  }
  double sum = 0;
  for (const TaskDef *t : mix.tasks)
    mix.cumulative.push_back(sum += t->info.weight);
  return mix;
}

Example finish(const TaskDef &task, Instance in, Rng &rng,
               double systemFraction) {
  Example ex;
  ex.task = task.info.name;
  ex.key = std::move(in.key);
  if (rng.chance(systemFraction))
    ex.messages.push_back({"system", rng.pick(detail::systemPrompts())});
  for (Message &m : in.messages)
    ex.messages.push_back(std::move(m));
  return ex;
}

} // namespace

const std::vector<TaskInfo> &tasks() {
  static const std::vector<TaskInfo> infos = [] {
    std::vector<TaskInfo> v;
    for (const TaskDef &t : detail::taskDefs())
      v.push_back(t.info);
    return v;
  }();
  return infos;
}

std::vector<std::string> taskNames() {
  std::vector<std::string> names;
  for (const TaskInfo &t : tasks())
    names.push_back(t.name);
  return names;
}

Dataset generate(const SynthOptions &options) {
  Mix mix = makeMix(options.tasks);
  if (!(options.systemFraction >= 0 && options.systemFraction <= 1))
    throw std::invalid_argument("systemFraction must be in [0, 1]");
  Dataset out;
  // Independent streams, so either split's size never changes the other.
  Rng trainRng(options.seed * 0x2545f4914f6cdd1dull + 1);
  Rng heldRng(options.seed * 0x2545f4914f6cdd1dull + 2);

  out.train.reserve(options.train);
  for (std::size_t i = 0; i < options.train; ++i) {
    const TaskDef &task = mix.pick(trainRng);
    for (int tries = 0;; ++tries) {
      Instance in = task.sample(trainRng);
      if (!isHeldOut(in, task.info.name, options.seed)) {
        out.train.push_back(
            finish(task, std::move(in), trainRng, options.systemFraction));
        break;
      }
      if (tries == kMaxTries)
        throw std::runtime_error("task '" + task.info.name +
                                 "' found no training instance");
    }
  }

  // Held-out instances are distinct: a task whose held-out space is used up
  // leaves the mix (the others fill its share); if every task is used up,
  // instances repeat.
  std::set<std::pair<std::string, std::string>> used;
  Mix held = mix;
  out.heldout.reserve(options.heldout);
  while (out.heldout.size() < options.heldout) {
    const TaskDef &task = held.pick(heldRng);
    bool added = false;
    for (int tries = 0; tries < kMaxTries && !added; ++tries) {
      Instance in = task.sample(heldRng);
      if (!isHeldOut(in, task.info.name, options.seed))
        continue;
      if (used.insert({task.info.name, in.key}).second || held.exhausted) {
        out.heldout.push_back(
            finish(task, std::move(in), heldRng, options.systemFraction));
        added = true;
      }
    }
    if (!added && !held.exhausted)
      held.remove(task);
    else if (!added)
      throw std::runtime_error("task '" + task.info.name +
                               "' found no held-out instance");
  }
  return out;
}

std::string toJsonLine(const Example &example) {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  for (const Message &m : example.messages)
    messages.push_back({{"role", m.role}, {"content", m.content}});
  nlohmann::ordered_json j;
  j["messages"] = std::move(messages);
  j["task"] = example.task;
  return j.dump();
}

void writeDataset(const Dataset &dataset, const std::filesystem::path &dir) {
  std::filesystem::create_directories(dir);
  auto write = [&](const std::vector<Example> &examples, const char *name) {
    std::string text;
    for (const Example &e : examples) {
      text += toJsonLine(e);
      text += '\n';
    }
    io::writeFileAtomic(dir / name, text);
  };
  write(dataset.train, "train.jsonl");
  write(dataset.heldout, "heldout.jsonl");
}

} // namespace gpt::synth
