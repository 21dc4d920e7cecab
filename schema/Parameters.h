//===- Parameters.h ---------------------------------------------*- C++ -*-===//
//
// The parameters of a GPT model: names (GPT-2/Hugging Face style, without the
// "transformer." prefix) and shapes. Shared by the compiler frontend (function
// argument names) and the runtime (checkpoint tensors), so both agree.
#ifndef GPT_RUNTIME_MODEL_PARAMETERS_H
#define GPT_RUNTIME_MODEL_PARAMETERS_H

#include "schema/ModelConfig.h"

#include <string>
#include <vector>

namespace gpt {

enum class ParamKind {
  Embedding, // wte, wpe: no weight decay
  Matrix,    // linear weights: weight decay applies
  Bias,
  LayerNormGain,
};

struct ParamSpec {
  std::string name;
  std::vector<int64_t> shape;
  ParamKind kind;
};

/// In a fixed order: wte, wpe, then per layer ln_1, attn.c_attn, attn.c_proj,
/// ln_2, mlp.c_fc, mlp.c_proj (weight before bias), then ln_f and, when the
/// embeddings are not tied, lm_head. Linear weights are [in, out] (GPT-2's
/// Conv1D layout); lm_head.weight is [vocab, d_model] like wte.
std::vector<ParamSpec> parameterSpecs(const ModelConfig &config);

/// Total number of scalars.
int64_t parameterCount(const ModelConfig &config);

} // namespace gpt

#endif
