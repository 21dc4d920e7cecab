//===- ModelConfig.cpp ----------------------------------------------------===//
#include "schema/ModelConfig.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

namespace gpt {
namespace {
using json = nlohmann::json;

const std::vector<std::string> kKeys = {
    "vocab_size",        "context_length", "n_layer",       "n_head",
    "d_model",           "d_ff",           "layernorm_eps", "tie_embeddings",
    "position_encoding", "rope_theta"};

[[noreturn]] void fail(const std::string &source, const std::string &what) {
  throw ConfigError(source + ": " + what);
}

// Levenshtein distance, to suggest the key a typo meant.
size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string lineColumn(const std::string &text, size_t byte) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

int64_t readSize(const json &object, const std::string &key,
                 const std::string &source) {
  const json &v = object.at(key);
  if (!v.is_number_integer())
    fail(source, "field '" + key + "' must be an integer, got " +
                     std::string(v.type_name()) + " " + v.dump());
  if (v.is_number_unsigned() &&
      v.get<uint64_t>() >
          static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
    fail(source, "field '" + key + "' is too large: " + v.dump());
  int64_t value = v.get<int64_t>();
  if (value <= 0)
    fail(source, "field '" + key + "' must be > 0, got " + v.dump());
  if (value > std::numeric_limits<int32_t>::max())
    fail(source, "field '" + key + "' is too large: " + v.dump());
  return value;
}
} // namespace

void validateModelConfig(const ModelConfig &c, const std::string &source) {
  const std::pair<const char *, int64_t> sizes[] = {
      {"vocab_size", c.vocab_size}, {"context_length", c.context_length},
      {"n_layer", c.n_layer},       {"n_head", c.n_head},
      {"d_model", c.d_model},       {"d_ff", c.d_ff}};
  for (auto [name, value] : sizes)
    if (value <= 0)
      fail(source, std::string("field '") + name + "' must be > 0, got " +
                       std::to_string(value));
  if (c.d_model % c.n_head != 0)
    fail(source, "field 'n_head' (" + std::to_string(c.n_head) +
                     ") must divide 'd_model' (" + std::to_string(c.d_model) +
                     ")");
  if (!(c.layernorm_eps > 0.0) || !std::isfinite(c.layernorm_eps))
    fail(source, "field 'layernorm_eps' must be a finite number > 0");
  if (c.rope && c.headDim() % 2 != 0)
    fail(source, "position_encoding 'rope' needs an even head size, got "
                 "d_model / n_head = " +
                     std::to_string(c.headDim()));
  // The compiler stores theta as f32: check the value it will see.
  const float theta = static_cast<float>(c.rope_theta);
  if (!(theta > 1.0f) || !std::isfinite(theta))
    fail(source, "field 'rope_theta' must be a finite number > 1");
}

ModelConfig parseModelConfig(const std::string &text,
                             const std::string &source) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error &e) {
    std::string what = e.what();
    // nlohmann prefixes "[json.exception.parse_error.101] parse error at
    // line L, column C: "; keep its detail after the last ": ".
    fail(source, "malformed JSON at " + lineColumn(text, e.byte) + ": " +
                     what.substr(what.find(": ") + 2));
  }
  if (!root.is_object())
    fail(source, "the config must be a JSON object, got " +
                     std::string(root.type_name()));
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (std::find(kKeys.begin(), kKeys.end(), it.key()) != kKeys.end())
      continue;
    std::string best;
    size_t bestDistance = 4;
    for (const std::string &key : kKeys)
      if (size_t d = editDistance(it.key(), key); d < bestDistance) {
        bestDistance = d;
        best = key;
      }
    fail(source, "unknown field '" + it.key() + "'" +
                     (best.empty() ? "" : " (did you mean '" + best + "'?)"));
  }
  for (const char *required :
       {"vocab_size", "context_length", "n_layer", "n_head", "d_model"})
    if (!root.contains(required))
      fail(source, std::string("missing required field '") + required + "'");

  ModelConfig c;
  c.vocab_size = readSize(root, "vocab_size", source);
  c.context_length = readSize(root, "context_length", source);
  c.n_layer = readSize(root, "n_layer", source);
  c.n_head = readSize(root, "n_head", source);
  c.d_model = readSize(root, "d_model", source);
  c.d_ff =
      root.contains("d_ff") ? readSize(root, "d_ff", source) : 4 * c.d_model;
  if (root.contains("layernorm_eps")) {
    const json &eps = root["layernorm_eps"];
    if (!eps.is_number())
      fail(source, "field 'layernorm_eps' must be a number, got " +
                       std::string(eps.type_name()) + " " + eps.dump());
    c.layernorm_eps = eps.get<double>();
  }
  if (root.contains("tie_embeddings")) {
    const json &tie = root["tie_embeddings"];
    if (!tie.is_boolean())
      fail(source, "field 'tie_embeddings' must be true or false, got " +
                       std::string(tie.type_name()) + " " + tie.dump());
    c.tie_embeddings = tie.get<bool>();
  }
  if (root.contains("position_encoding")) {
    const json &pe = root["position_encoding"];
    if (!pe.is_string() || (pe != "learned" && pe != "rope"))
      fail(source, "field 'position_encoding' must be \"learned\" or "
                   "\"rope\", got " +
                       pe.dump());
    c.rope = pe == "rope";
  }
  if (root.contains("rope_theta")) {
    const json &theta = root["rope_theta"];
    if (!c.rope)
      fail(source, "field 'rope_theta' needs \"position_encoding\": "
                   "\"rope\"");
    if (!theta.is_number())
      fail(source, "field 'rope_theta' must be a number, got " +
                       std::string(theta.type_name()) + " " + theta.dump());
    c.rope_theta = theta.get<double>();
  }
  validateModelConfig(c, source);
  return c;
}

ModelConfig loadModelConfig(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw ConfigError(path + ": cannot open the config file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parseModelConfig(buffer.str(), path);
}

namespace {
/// Runs a throwing reader for callers built without exceptions.
template <typename Reader>
bool tryRead(Reader read, ModelConfig &out, std::string &error) {
  try {
    out = read();
    return true;
  } catch (const std::exception &e) {
    error = e.what();
    return false;
  }
}
} // namespace

bool tryParseModelConfig(const std::string &text, const std::string &source,
                         ModelConfig &out, std::string &error) {
  return tryRead([&] { return parseModelConfig(text, source); }, out, error);
}

bool tryLoadModelConfig(const std::string &path, ModelConfig &out,
                        std::string &error) {
  return tryRead([&] { return loadModelConfig(path); }, out, error);
}

bool tryPresetModelConfig(const std::string &name, ModelConfig &out,
                          std::string &error) {
  return tryRead([&] { return presetModelConfig(name); }, out, error);
}

std::string modelConfigToJson(const ModelConfig &c) {
  json j = {{"vocab_size", c.vocab_size},
            {"context_length", c.context_length},
            {"n_layer", c.n_layer},
            {"n_head", c.n_head},
            {"d_model", c.d_model},
            {"d_ff", c.d_ff},
            {"layernorm_eps", c.layernorm_eps},
            {"tie_embeddings", c.tie_embeddings}};
  // Written only for rope: a learned-position config keeps the bytes (and
  // artifact cache keys) it had before the option existed.
  if (c.rope) {
    j["position_encoding"] = "rope";
    j["rope_theta"] = c.rope_theta;
  }
  return j.dump(2);
}

ModelConfig presetModelConfig(const std::string &name) {
  ModelConfig c;
  if (name == "gpt2-124m") {
    c.vocab_size = 50257;
    c.context_length = 1024;
    c.n_layer = 12;
    c.n_head = 12;
    c.d_model = 768;
  } else {
    throw ConfigError("unknown preset '" + name + "' (known: gpt2-124m)");
  }
  c.d_ff = 4 * c.d_model;
  return c;
}

} // namespace gpt
