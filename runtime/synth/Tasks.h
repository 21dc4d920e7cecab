// Internal to gpt_synth: the random generator and the task samplers.
#pragma once

#include "synth/Synth.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gpt::synth::detail {

/// SplitMix64 with bias-free bounded draws.
class Rng {
public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, bound), bound > 0.
  std::uint64_t below(std::uint64_t bound) {
    std::uint64_t limit = ~0ull - (~0ull % bound);
    std::uint64_t x;
    do {
      x = next();
    } while (x >= limit);
    return x % bound;
  }
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

private:
  std::uint64_t state_;
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
