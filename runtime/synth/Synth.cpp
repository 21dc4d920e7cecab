//===- Synth.cpp ----------------------------------------------------------===//
#include "runtime/synth/Synth.h"

#include "runtime/io/FileIO.h"
#include "runtime/synth/Tasks.h"

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

/// Per mille of problems that are held out.
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

/// The side of a problem depends on its canonical key and the seed only:
/// never on the task, the phrasing or the turn it appears in.
bool heldOutProblem(const std::string &key, std::uint64_t seed) {
  Rng mix(seed ^ fnv1a64(key));
  return mix.next() % 1000 < kHeldOutPermille;
}

/// A training conversation has no held-out problem in any turn.
bool trainable(const Instance &in, std::uint64_t seed) {
  return std::none_of(
      in.problems.begin(), in.problems.end(),
      [&](const std::string &k) { return heldOutProblem(k, seed); });
}

/// A held-out or validation conversation has only held-out problems.
bool holdable(const Instance &in, std::uint64_t seed) {
  return std::all_of(
      in.problems.begin(), in.problems.end(),
      [&](const std::string &k) { return heldOutProblem(k, seed); });
}

std::string joinKeys(const std::vector<std::string> &keys) {
  std::string out;
  for (const std::string &k : keys)
    out += k + ';';
  return out;
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

Mix makeMix(const std::vector<std::string> &names, bool heldOutOnly) {
  Mix mix;
  for (const TaskDef &t : detail::taskDefs())
    if ((names.empty() ||
         std::find(names.begin(), names.end(), t.info.name) != names.end()) &&
        (!heldOutOnly || t.info.heldOut))
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
  ex.problems = std::move(in.problems);
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
  Mix mix = makeMix(options.tasks, false);
  if (!(options.systemFraction >= 0 && options.systemFraction <= 1))
    throw std::invalid_argument("systemFraction must be in [0, 1]");
  Mix heldMix = makeMix(options.tasks, true);
  if (heldMix.tasks.empty() && (options.heldout > 0 || options.valid > 0))
    throw std::invalid_argument(
        "no selected task has held-out questions (facts are only trained): "
        "add another task, or ask for 0 held-out and validation "
        "conversations");
  Dataset out;
  const std::uint64_t seed = options.seed;
  // Independent streams, so no split's size changes another split.
  Rng trainRng(seed * 0x2545f4914f6cdd1dull + 1);
  Rng heldRng(seed * 0x2545f4914f6cdd1dull + 2);
  Rng validRng(seed * 0x2545f4914f6cdd1dull + 3);

  // Draws instances of `task` until `accept` takes one.
  auto draw = [&](const TaskDef &task, Rng &rng, auto accept) {
    for (int tries = 0; tries <= kMaxTries; ++tries) {
      Instance in = task.sample(rng, task.lang);
      if (accept(in))
        return in;
    }
    throw std::runtime_error("task '" + task.info.name +
                             "' found no instance for a split");
  };

  out.train.reserve(options.train);
  for (std::size_t i = 0; i < options.train; ++i) {
    const TaskDef &task = mix.pick(trainRng);
    Instance in = draw(task, trainRng,
                       [&](const Instance &x) { return trainable(x, seed); });
    out.train.push_back(
        finish(task, std::move(in), trainRng, options.systemFraction));
  }

  out.valid.reserve(options.valid);
  for (std::size_t i = 0; i < options.valid; ++i) {
    const TaskDef &task = heldMix.pick(validRng);
    Instance in = draw(task, validRng,
                       [&](const Instance &x) { return holdable(x, seed); });
    out.valid.push_back(
        finish(task, std::move(in), validRng, options.systemFraction));
  }

  // Held-out instances are distinct: a task whose held-out space is used up
  // leaves the mix (the others fill its share); if every task is used up,
  // instances repeat.
  std::set<std::pair<std::string, std::string>> used;
  Mix held = heldMix;
  out.heldout.reserve(options.heldout);
  while (out.heldout.size() < options.heldout) {
    const TaskDef &task = held.pick(heldRng);
    bool added = false;
    for (int tries = 0; tries < kMaxTries && !added; ++tries) {
      Instance in = task.sample(heldRng, task.lang);
      if (!holdable(in, seed))
        continue;
      if (used.insert({task.info.name, joinKeys(in.problems)}).second ||
          held.exhausted) {
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
  write(dataset.valid, "valid.jsonl");
  write(dataset.heldout, "heldout.jsonl");
}

} // namespace gpt::synth
