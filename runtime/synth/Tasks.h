//===- Tasks.h --------------------------------------------------*- C++ -*-===//
//
// Internal to gpt_synth: the random generator and the task samplers.
#pragma once

#include "runtime/data/Random.h"
#include "runtime/synth/Synth.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gpt::synth::detail {

/// The data pipeline's SplitMix64 (bias-free bounded draws) plus the draws
/// the task samplers need.
class Rng : public data::SplitMix64 {
public:
  using SplitMix64::SplitMix64;
  /// Uniform integer in [lo, hi].
  int range(int lo, int hi) {
    return lo +
           static_cast<int>(below(static_cast<std::uint64_t>(hi - lo + 1)));
  }
  /// True with probability p (resolution 1e-6).
  bool chance(double p) {
    return static_cast<double>(below(1000000)) < p * 1000000.0;
  }
  template <class T> const T &pick(const std::vector<T> &v) {
    return v[below(v.size())];
  }
};

enum class Lang { En, Zh };

/// One sampled conversation, before the split decides where it goes.
struct Instance {
  /// The canonical keys of the problems the assistant turns answer, in
  /// order (see Example::problems); the last is the one evaluated.
  std::vector<std::string> problems;
  std::vector<Message> messages; // user/assistant turns, no system message
};

using Sampler = Instance (*)(Rng &, Lang);

struct TaskDef {
  TaskInfo info;
  Sampler sample;
  Lang lang;
};

/// All tasks in a fixed order.
const std::vector<TaskDef> &taskDefs();

/// System prompts a conversation may start with.
const std::vector<std::string> &systemPrompts();

} // namespace gpt::synth::detail
