//===- Random.h -------------------------------------------------*- C++ -*-===//
//
// A small deterministic random generator (SplitMix64) and shuffle, so that
// data splits and batch orders are identical on every platform (std::
// distributions are implementation-defined).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace gpt::data {

class SplitMix64 {
public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, bound), bound > 0 (rejection sampling, no modulo bias).
  std::uint64_t below(std::uint64_t bound) {
    std::uint64_t limit = ~0ull - (~0ull % bound);
    std::uint64_t x;
    do {
      x = next();
    } while (x >= limit);
    return x % bound;
  }

private:
  std::uint64_t state_;
};

/// Fisher-Yates shuffle driven by SplitMix64(seed).
template <class T> void seededShuffle(std::vector<T> &v, std::uint64_t seed) {
  SplitMix64 rng(seed);
  for (std::size_t i = v.size(); i > 1; --i)
    std::swap(v[i - 1], v[rng.below(i)]);
}

} // namespace gpt::data
