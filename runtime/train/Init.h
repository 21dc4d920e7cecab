//===- Init.h ---------------------------------------------------*- C++ -*-===//
//
// GPT-2 style parameter initialization, deterministic for a given seed on
// every platform: weights ~ normal(0, 0.02), residual projections
// (attn.c_proj.weight, mlp.c_proj.weight) scaled by 1/sqrt(2*n_layer),
// biases 0, layernorm gains 1 (and their biases 0).
//
// Each parameter draws from its own stream, seeded by (seed, name), so a
// tensor's values do not depend on the order or presence of the others.
#pragma once

#include "runtime/train/Runner.h" // io::Tensor as train::Tensor
#include "schema/ModelConfig.h"

#include <cstdint>
#include <map>
#include <string>

namespace gpt::train {

/// All parameters of `config` (names as in schema/Parameters.h).
std::map<std::string, Tensor> initParameters(const ModelConfig &config,
                                             std::uint64_t seed);

/// A reproducible standard-normal stream (SplitMix64 + Box-Muller in
/// double precision).
class NormalStream {
public:
  explicit NormalStream(std::uint64_t seed) : state_(seed) {}
  double next();
  std::uint64_t nextU64();

private:
  std::uint64_t state_;
  bool haveSpare_ = false;
  double spare_ = 0;
};

} // namespace gpt::train
