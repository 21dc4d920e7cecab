//===- Sampler.cpp --------------------------------------------------------===//
#include "runtime/engine/Sampler.h"

#include <algorithm>
#include <cmath>

namespace gpt {

double uniformDraw(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

int32_t sampleToken(const SamplingParams &p,
                    const std::unordered_map<int32_t, int> &counts,
                    const float *logits, int64_t V, uint64_t &rng,
                    std::vector<float> &scratch) {
  scratch.assign(logits, logits + V);
  float *x = scratch.data();
  for (const auto &kv : counts)
    x[kv.first] -= p.frequencyPenalty * float(kv.second) +
                   (kv.second > 0 ? p.presencePenalty : 0.0f);
  for (const auto &[id, bias] : p.logitBias)
    x[id] += bias;
  int32_t best = 0;
  for (int64_t i = 1; i < V; ++i)
    if (x[i] > x[best])
      best = static_cast<int32_t>(i);
  if (p.temperature <= 0.0f || V == 1)
    return best;
  // Candidates: all ids, or the top k; by probability, ties by id.
  std::vector<std::pair<double, int32_t>> cand;
  cand.reserve(size_t(V));
  double maxv = x[best];
  for (int64_t i = 0; i < V; ++i)
    cand.push_back({std::exp((double(x[i]) - maxv) / p.temperature),
                    static_cast<int32_t>(i)});
  auto byProb = [](const auto &a, const auto &b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  size_t keep = cand.size();
  if (p.topK > 0 && size_t(p.topK) < keep) {
    keep = size_t(p.topK);
    std::partial_sort(cand.begin(), cand.begin() + keep, cand.end(), byProb);
  } else if (p.topP < 1.0f) {
    std::sort(cand.begin(), cand.end(), byProb);
  }
  if (p.topP < 1.0f) {
    double total = 0;
    for (size_t i = 0; i < keep; ++i)
      total += cand[i].first;
    double mass = 0;
    for (size_t i = 0; i < keep; ++i) {
      mass += cand[i].first / total;
      if (mass >= p.topP) {
        keep = i + 1;
        break;
      }
    }
  }
  double kept = 0;
  for (size_t i = 0; i < keep; ++i)
    kept += cand[i].first;
  double u = uniformDraw(rng) * kept;
  for (size_t i = 0; i < keep; ++i) {
    u -= cand[i].first;
    if (u < 0)
      return cand[i].second;
  }
  return cand[keep - 1].second;
}

} // namespace gpt
