// The built-in synthetic chat dataset: short instruction/answer dialogues
// with exactly checkable answers (arithmetic, counting, ordering, spelling,
// simple facts, a two-turn follow-up), phrased through varied templates.
// A small model learns most of it in minutes on a laptop CPU, and the
// held-out split measures generalization: every held-out question is an
// instance that never occurs in the training split (held-out operand pairs,
// word lists, words, or fact+phrasing combinations).
//
// Generation is deterministic in the seed (SplitMix64, no std::
// distributions), identical on every platform.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gpt::synth {

struct Message {
  std::string role; // "system", "user" or "assistant"
  std::string content;
};

/// One conversation. The last message is the assistant's answer that the
/// exact-match evaluation checks.
struct Example {
  std::string task; // one of taskNames()
  /// The identity of the question instance, unique within its task; the
  /// train and held-out splits never share a (task, key).
  std::string key;
  std::vector<Message> messages;
};

struct SynthOptions {
  std::size_t train = 50000;
  std::size_t heldout = 500;
  std::uint64_t seed = 1;
  /// Tasks to generate (empty: all), names from taskNames().
  std::vector<std::string> tasks;
  /// Probability that a conversation starts with a system message.
  double systemFraction = 0.1;
};

struct Dataset {
  std::vector<Example> train;
  std::vector<Example> heldout;
};

struct TaskInfo {
  std::string name;
  std::string description;
  double weight; // relative frequency in the mix
};

/// The tasks, in a fixed order.
const std::vector<TaskInfo> &tasks();
std::vector<std::string> taskNames();

/// Generates both splits. Held-out examples are distinct instances (no
/// (task, key) repeats) as long as the task's held-out space allows; the
/// training split may repeat instances. Throws std::invalid_argument for an
/// unknown task name.
Dataset generate(const SynthOptions &options);

/// One JSONL line (no trailing newline):
///   {"messages":[{"role":...,"content":...},...],"task":"add"}
/// OpenAI's fine-tuning chat format plus a "task" key that readers ignore
/// (gpt eval-chat uses it for a per-task breakdown).
std::string toJsonLine(const Example &example);

/// Writes DIR/train.jsonl and DIR/heldout.jsonl (each atomically: a
/// temporary file in DIR, then rename), creating DIR if needed.
void writeDataset(const Dataset &dataset, const std::filesystem::path &dir);

} // namespace gpt::synth
