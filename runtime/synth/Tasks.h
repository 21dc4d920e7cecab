// Internal to gpt_synth: the random generator and the task samplers.
#pragma once

#include "data/Random.h"
#include "synth/Synth.h"

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

/// One sampled question instance, before the split decides where it goes.
struct Instance {
  std::string key;     // unique identity of the question within its task
  std::string holdKey; // what the train/held-out split is decided on
  /// When holdSlots > 0 the instance is held out iff holdSlot equals
  /// hash(seed, holdKey) % holdSlots (facts: exactly one phrasing of each
  /// fact is held out); otherwise a fixed fraction of holdKeys is held out.
  int holdSlot = -1;
  int holdSlots = 0;
  std::vector<Message> messages; // user/assistant turns, no system message
};

using Sampler = Instance (*)(Rng &);

struct TaskDef {
  TaskInfo info;
  Sampler sample;
};

/// All tasks in a fixed order.
const std::vector<TaskDef> &taskDefs();

/// System prompts a conversation may start with.
const std::vector<std::string> &systemPrompts();

} // namespace gpt::synth::detail
