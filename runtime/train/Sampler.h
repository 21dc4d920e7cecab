// Token sampling from logits: temperature, nucleus (top-p), deterministic
// for a given seed (SplitMix64, no std:: distributions).
#pragma once

#include <cstdint>
#include <vector>

namespace gpt::train {

class Sampler {
public:
  /// temperature 0 picks the argmax; topP in (0, 1].
  Sampler(std::uint64_t seed, double temperature, double topP);
  /// An id in [0, n) drawn from softmax(logits / temperature) restricted to
  /// the smallest set of most likely ids whose mass reaches topP.
  std::int64_t sample(const float *logits, std::int64_t n);
  /// Uniform in [0, 1).
  double uniform();

private:
  std::uint64_t state_;
  double temperature_, topP_;
  std::vector<std::pair<double, std::int64_t>> scratch_;
};

} // namespace gpt::train
