#include "train/Sampler.h"

#include <algorithm>
#include <cmath>

namespace gpt::train {

Sampler::Sampler(std::uint64_t seed, double temperature, double topP)
    : state_(seed), temperature_(temperature), topP_(topP) {}

double Sampler::uniform() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

std::int64_t Sampler::sample(const float *logits, std::int64_t n) {
  std::int64_t best = 0;
  for (std::int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best])
      best = i;
  if (temperature_ <= 0 || n == 1)
    return best;
  const double maxv = logits[best];
  scratch_.clear();
  double total = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    double p = std::exp((logits[i] - maxv) / temperature_);
    total += p;
    scratch_.push_back({p, i});
  }
  // Most likely first; ties by id so the order is deterministic.
  std::sort(scratch_.begin(), scratch_.end(), [](const auto &a, const auto &b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::size_t keep = scratch_.size();
  double mass = 0;
  if (topP_ < 1) {
    for (std::size_t i = 0; i < scratch_.size(); ++i) {
      mass += scratch_[i].first / total;
      if (mass >= topP_) {
        keep = i + 1;
        break;
      }
    }
  }
  double kept = 0;
  for (std::size_t i = 0; i < keep; ++i)
    kept += scratch_[i].first;
  double u = uniform() * kept;
  for (std::size_t i = 0; i < keep; ++i) {
    u -= scratch_[i].first;
    if (u < 0)
      return scratch_[i].second;
  }
  return scratch_[keep - 1].second;
}

} // namespace gpt::train
