//===- Synth.h --------------------------------------------------*- C++ -*-===//
//
// The built-in synthetic chat dataset: short instruction/answer dialogues
// with exactly checkable answers (arithmetic, counting, ordering, spelling,
// simple facts, a two-turn follow-up), phrased through varied English and
// Chinese templates. A small model learns most of it in minutes on a laptop
// CPU, and the held-out split measures generalization.
//
// Held out by construction: every assistant turn answers one *problem*,
// named by a canonical key that ignores phrasing, language, task and
// operand order ("add:3,5" for 3+5, 5+3, "What comes after 5?" when the
// operand is 1, "3加5等于多少？" and a follow-up turn adding 3 to 5; see
// docs/quickstart.md for every key). A seeded hash of the key alone puts
// each problem on one side: a training conversation contains only training
// problems (in every turn), a held-out or validation conversation only
// held-out problems. Facts cannot be inferred, so they are trained and
// never held out.
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
  /// The canonical keys of the problems its assistant turns answer, in
  /// order; the last is the one the evaluation checks. No key of a training
  /// conversation is the key of a held-out or validation conversation.
  std::vector<std::string> problems;
  std::vector<Message> messages;
};

struct SynthOptions {
  std::size_t train = 50000;
  std::size_t heldout = 500;
  /// Validation conversations (for the validation loss): held-out problems
  /// like the held-out split, drawn from their own random stream.
  std::size_t valid = 1000;
  std::uint64_t seed = 1;
  /// Tasks to generate (empty: all), names from taskNames().
  std::vector<std::string> tasks;
  /// Probability that a conversation starts with a system message.
  double systemFraction = 0.1;
};

struct Dataset {
  std::vector<Example> train;
  std::vector<Example> heldout;
  std::vector<Example> valid;
};

struct TaskInfo {
  std::string name;
  std::string description;
  double weight;        // relative frequency in the mix
  std::string language; // "en" or "zh"
  /// False for facts: knowledge cannot be inferred, so these tasks are only
  /// trained, never in the held-out or validation splits.
  bool heldOut = true;
};

/// The tasks, in a fixed order.
const std::vector<TaskInfo> &tasks();
std::vector<std::string> taskNames();

/// Generates the three splits. Held-out examples are distinct (no
/// (task, problems) repeats) as long as the task's held-out space allows;
/// the training and validation splits may repeat instances. Throws
/// std::invalid_argument for an unknown task name, or when held-out or
/// validation conversations are asked for but no selected task has any.
Dataset generate(const SynthOptions &options);

/// One JSONL line (no trailing newline):
///   {"messages":[{"role":...,"content":...},...],"task":"add"}
/// OpenAI's fine-tuning chat format plus a "task" key that readers ignore
/// (gpt eval-chat uses it for a per-task breakdown).
std::string toJsonLine(const Example &example);

/// Writes DIR/train.jsonl, DIR/valid.jsonl and DIR/heldout.jsonl (each
/// atomically: a temporary file in DIR, then rename), creating DIR if
/// needed.
void writeDataset(const Dataset &dataset, const std::filesystem::path &dir);

} // namespace gpt::synth
