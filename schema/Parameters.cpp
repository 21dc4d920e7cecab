//===- Parameters.cpp -----------------------------------------------------===//
#include "schema/Parameters.h"

namespace gpt {

std::vector<ParamSpec> parameterSpecs(const ModelConfig &c) {
  const int64_t d = c.d_model, f = c.d_ff;
  std::vector<ParamSpec> specs = {
      {"wte.weight", {c.vocab_size, d}, ParamKind::Embedding}};
  if (!c.rope) // RoPE has no position table
    specs.push_back(
        {"wpe.weight", {c.context_length, d}, ParamKind::Embedding});
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "h." + std::to_string(i) + ".";
    specs.push_back({p + "ln_1.weight", {d}, ParamKind::LayerNormGain});
    specs.push_back({p + "ln_1.bias", {d}, ParamKind::Bias});
    specs.push_back({p + "attn.c_attn.weight", {d, 3 * d}, ParamKind::Matrix});
    specs.push_back({p + "attn.c_attn.bias", {3 * d}, ParamKind::Bias});
    specs.push_back({p + "attn.c_proj.weight", {d, d}, ParamKind::Matrix});
    specs.push_back({p + "attn.c_proj.bias", {d}, ParamKind::Bias});
    specs.push_back({p + "ln_2.weight", {d}, ParamKind::LayerNormGain});
    specs.push_back({p + "ln_2.bias", {d}, ParamKind::Bias});
    specs.push_back({p + "mlp.c_fc.weight", {d, f}, ParamKind::Matrix});
    specs.push_back({p + "mlp.c_fc.bias", {f}, ParamKind::Bias});
    specs.push_back({p + "mlp.c_proj.weight", {f, d}, ParamKind::Matrix});
    specs.push_back({p + "mlp.c_proj.bias", {d}, ParamKind::Bias});
  }
  specs.push_back({"ln_f.weight", {d}, ParamKind::LayerNormGain});
  specs.push_back({"ln_f.bias", {d}, ParamKind::Bias});
  if (!c.tie_embeddings)
    specs.push_back({"lm_head.weight", {c.vocab_size, d}, ParamKind::Matrix});
  return specs;
}

int64_t parameterCount(const ModelConfig &config) {
  int64_t total = 0;
  for (const ParamSpec &spec : parameterSpecs(config)) {
    int64_t n = 1;
    for (int64_t dim : spec.shape)
      n *= dim;
    total += n;
  }
  return total;
}

} // namespace gpt
