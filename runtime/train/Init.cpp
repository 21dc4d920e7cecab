//===- Init.cpp -----------------------------------------------------------===//
#include "runtime/train/Init.h"

#include "runtime/io/FileIO.h"
#include "schema/Parameters.h"

#include <cmath>

namespace gpt::train {

std::uint64_t NormalStream::nextU64() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double NormalStream::next() {
  if (haveSpare_) {
    haveSpare_ = false;
    return spare_;
  }
  // Two uniforms in (0, 1]: 53 random bits each.
  double u1 = (static_cast<double>(nextU64() >> 11) + 1.0) * 0x1.0p-53;
  double u2 = static_cast<double>(nextU64() >> 11) * 0x1.0p-53;
  double r = std::sqrt(-2.0 * std::log(u1));
  double theta = 2.0 * M_PI * u2;
  spare_ = r * std::sin(theta);
  haveSpare_ = true;
  return r * std::cos(theta);
}

namespace {
bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
} // namespace

std::map<std::string, Tensor> initParameters(const ModelConfig &config,
                                             std::uint64_t seed) {
  std::map<std::string, Tensor> out;
  const double residualScale = 1.0 / std::sqrt(2.0 * config.n_layer);
  for (const ParamSpec &spec : parameterSpecs(config)) {
    Tensor t;
    t.dtype = DType::F32;
    t.shape = spec.shape;
    std::int64_t n = t.numel();
    t.data.assign(static_cast<std::size_t>(n) * sizeof(float), 0);
    float *p = t.f32();
    switch (spec.kind) {
    case ParamKind::Bias:
      break; // zeros
    case ParamKind::LayerNormGain:
      for (std::int64_t i = 0; i < n; ++i)
        p[i] = 1.0f;
      break;
    case ParamKind::Embedding:
    case ParamKind::Matrix: {
      double std = 0.02;
      if (endsWith(spec.name, "c_proj.weight"))
        std *= residualScale;
      // Per-tensor stream: seed mixed with a hash of the name.
      std::uint64_t nameHash =
          std::stoull(io::fnv1a64Hex(spec.name), nullptr, 16);
      NormalStream rng(seed ^ (nameHash * 0x9e3779b97f4a7c15ull));
      for (std::int64_t i = 0; i < n; ++i)
        p[i] = static_cast<float>(std * rng.next());
      break;
    }
    }
    out.emplace(spec.name, std::move(t));
  }
  return out;
}

} // namespace gpt::train
