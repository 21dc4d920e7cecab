//===- ModelConfig.h --------------------------------------------*- C++ -*-===//
//
// ModelConfig: the shape of a GPT-2-style model, read from a JSON file.
//
// Exactly these keys are accepted: vocab_size, context_length, n_layer,
// n_head, d_model (required), d_ff (default 4*d_model), layernorm_eps
// (default 1e-5), tie_embeddings (default true), position_encoding
// ("learned", GPT-2's table, the default; or "rope", rotary embeddings of the
// queries and keys) and rope_theta (default 10000, only with "rope"). Any
// other key is an error, so a typo never silently falls back to a default.
#ifndef GPT_RUNTIME_MODEL_MODELCONFIG_H
#define GPT_RUNTIME_MODEL_MODELCONFIG_H

#include <cstdint>
#include <stdexcept>
#include <string>

namespace gpt {

struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t context_length = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t d_model = 0;
  int64_t d_ff = 0;
  double layernorm_eps = 1e-5;
  bool tie_embeddings = true;
  /// false: a learned position table `wpe` added to the token embeddings
  /// (GPT-2). true: no table; the queries and keys are rotated by their
  /// position (RoPE, `gpt.rope`), which attends by relative position.
  bool rope = false;
  double rope_theta = 10000.0;

  int64_t headDim() const { return d_model / n_head; }
};

/// A config that cannot be used. The message names the source and the field.
class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Parses and validates JSON text; `source` (a file name) prefixes messages.
/// Throws ConfigError.
ModelConfig parseModelConfig(const std::string &jsonText,
                             const std::string &source);
/// Reads and parses a file. Throws ConfigError.
ModelConfig loadModelConfig(const std::string &path);

/// Non-throwing forms for callers built without exceptions (the compiler).
bool tryParseModelConfig(const std::string &jsonText, const std::string &source,
                         ModelConfig &out, std::string &error);
bool tryLoadModelConfig(const std::string &path, ModelConfig &out,
                        std::string &error);
bool tryPresetModelConfig(const std::string &name, ModelConfig &out,
                          std::string &error);

/// Checks the invariants (sizes > 0, n_head divides d_model, ...). Throws.
void validateModelConfig(const ModelConfig &config, const std::string &source);

/// The config as JSON text with every key spelled out.
std::string modelConfigToJson(const ModelConfig &config);

/// Named shapes: "gpt2-124m" (GPT-2 small). Throws ConfigError when unknown.
ModelConfig presetModelConfig(const std::string &name);

} // namespace gpt

#endif
