//===- Gpt2Interop.cpp ----------------------------------------------------===//
#include "runtime/interop/Gpt2Interop.h"

#include "runtime/interop/Half.h"
#include "runtime/io/FileIO.h"
#include "runtime/tokenizer/ByteLevel.h"
#include "runtime/tokenizer/VocabFiles.h"
#include "runtime/train/Init.h"
#include "schema/Parameters.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

namespace gpt::interop {
namespace fs = std::filesystem;
using io::DType;
using io::Tensor;

namespace {

[[noreturn]] void fail(const std::string &where, const std::string &msg) {
  throw InteropError(where + ": " + msg);
}

std::string shapeStr(const std::vector<std::int64_t> &s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i)
    out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

/// Any float tensor as F32 (F32 copied, F16 / BF16 widened, F64 narrowed).
Tensor toF32(Tensor t, const std::string &where, const std::string &name) {
  if (t.dtype == DType::F32)
    return t; // moved, not copied (checkpoints can be gigabytes)
  Tensor out;
  out.dtype = DType::F32;
  out.shape = t.shape;
  std::int64_t n = t.numel();
  out.data.resize(static_cast<std::size_t>(n) * 4);
  float *dst = reinterpret_cast<float *>(out.data.data());
  const std::uint8_t *src = t.data.data();
  for (std::int64_t i = 0; i < n; ++i) {
    switch (t.dtype) {
    case DType::F16:
    case DType::BF16: {
      std::uint16_t h =
          static_cast<std::uint16_t>(src[2 * i] | (src[2 * i + 1] << 8));
      dst[i] = t.dtype == DType::F16 ? halfToFloat(h) : bf16ToFloat(h);
      break;
    }
    case DType::F64: {
      double d;
      std::memcpy(&d, src + 8 * i, 8);
      dst[i] = static_cast<float>(d);
      break;
    }
    default:
      fail(where, "tensor '" + name + "' has dtype " + io::dtypeName(t.dtype) +
                      " (supported: F32, F16, BF16, F64)");
    }
  }
  return out;
}

/// [rows, cols] -> [cols, rows] (F32).
Tensor transpose2d(const Tensor &t) {
  Tensor out;
  out.dtype = DType::F32;
  std::int64_t r = t.shape[0], c = t.shape[1];
  out.shape = {c, r};
  out.data.resize(t.data.size());
  const float *s = t.f32();
  float *d = out.f32();
  for (std::int64_t i = 0; i < r; ++i)
    for (std::int64_t j = 0; j < c; ++j)
      d[j * r + i] = s[i * c + j];
  return out;
}

/// Our parameter names whose layout is Conv1D [in, out].
bool isLinearWeight(const std::string &name) {
  for (const char *s : {".attn.c_attn.weight", ".attn.c_proj.weight",
                        ".mlp.c_fc.weight", ".mlp.c_proj.weight"}) {
    std::string suf = s;
    if (name.size() > suf.size() &&
        name.compare(name.size() - suf.size(), suf.size(), suf) == 0)
      return true;
  }
  return false;
}

/// A tokenizer from GPT-2-format tokens (raw bytes, ids dense) and merges:
/// a final <|endoftext|> becomes special, and the three special tokens are
/// ensured, as Tokenizer::load does for GPT-2's files.
std::unique_ptr<tokenizer::Tokenizer>
tokenizerFromGpt2(std::vector<std::string> tokens,
                  std::vector<std::pair<std::string, std::string>> merges,
                  std::vector<std::string> specials, const std::string &where) {
  if (specials.empty() && !tokens.empty() &&
      tokens.back() == tokenizer::kEndOfText) {
    tokens.pop_back();
    specials.push_back(tokenizer::kEndOfText);
  }
  for (const char *s :
       {tokenizer::kEndOfText, tokenizer::kImStart, tokenizer::kImEnd}) {
    bool present = false;
    for (const auto &have : specials)
      present |= have == s;
    if (!present)
      specials.push_back(s);
  }
  for (const auto &t : tokens)
    for (const auto &s : specials)
      if (t == s)
        fail(where, "special token " + s + " is also an ordinary token");
  try {
    return std::make_unique<tokenizer::Tokenizer>(std::move(tokens),
                                                  std::move(merges), specials);
  } catch (const std::exception &e) {
    fail(where, std::string("bad tokenizer: ") + e.what());
  }
}

const nlohmann::json *jsonKey(const nlohmann::json &j, const char *key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    return nullptr;
  return &*it;
}

std::int64_t jsonInt(const nlohmann::json &j, const char *key,
                     const std::string &where, std::int64_t def = -1) {
  const nlohmann::json *v = jsonKey(j, key);
  if (!v) {
    if (def >= 0)
      return def;
    fail(where, std::string("missing key '") + key + "'");
  }
  if (!v->is_number_integer() || v->get<std::int64_t>() <= 0 ||
      v->get<std::int64_t>() > (1ll << 31))
    fail(where, std::string("'") + key + "' must be a positive integer");
  return v->get<std::int64_t>();
}

/// Reads the safetensors file(s) of a HF checkpoint directory.
std::map<std::string, Tensor> readHfWeights(const fs::path &dir) {
  std::map<std::string, Tensor> all;
  fs::path single = dir / "model.safetensors";
  fs::path index = dir / "model.safetensors.index.json";
  std::vector<fs::path> files;
  if (fs::exists(single)) {
    files.push_back(single);
  } else if (fs::exists(index)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(io::readFile(index));
    } catch (const nlohmann::json::exception &e) {
      fail(index.string(), std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object() || !j.contains("weight_map") ||
        !j["weight_map"].is_object())
      fail(index.string(), "missing object 'weight_map'");
    std::set<std::string> shards;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string())
        fail(index.string(), "weight_map['" + it.key() + "'] is not a string");
      std::string f = it.value().get<std::string>();
      if (f.empty() || f.find('/') != std::string::npos ||
          f.find('\\') != std::string::npos || f == "." || f == "..")
        fail(index.string(), "weight_map['" + it.key() + "']: shard '" + f +
                                 "' is not a plain file name");
      shards.insert(f);
    }
    for (const auto &f : shards)
      files.push_back(dir / f);
  } else {
    fail(dir.string(),
         "no model.safetensors (or model.safetensors.index.json)");
  }
  for (const auto &f : files) {
    io::SafetensorsFile st = io::readSafetensors(f);
    for (auto &[name, t] : st.tensors)
      if (!all.emplace(name, std::move(t)).second)
        fail(f.string(), "tensor '" + name + "' appears in two shards");
  }
  return all;
}

// ---- GGUF names ---------------------------------------------------------

struct NameMap {
  std::string ours, gguf;
};

std::vector<NameMap> ggufNames(const ModelConfig &c) {
  std::vector<NameMap> m = {{"wte.weight", "token_embd.weight"},
                            {"wpe.weight", "position_embd.weight"}};
  for (std::int64_t i = 0; i < c.n_layer; ++i) {
    std::string h = "h." + std::to_string(i) + ".";
    std::string b = "blk." + std::to_string(i) + ".";
    const char *pairs[][2] = {
        {"ln_1", "attn_norm"},          {"attn.c_attn", "attn_qkv"},
        {"attn.c_proj", "attn_output"}, {"ln_2", "ffn_norm"},
        {"mlp.c_fc", "ffn_up"},         {"mlp.c_proj", "ffn_down"}};
    for (auto &p : pairs)
      for (const char *wb : {".weight", ".bias"})
        m.push_back({h + p[0] + wb, b + p[1] + wb});
  }
  m.push_back({"ln_f.weight", "output_norm.weight"});
  m.push_back({"ln_f.bias", "output_norm.bias"});
  if (!c.tie_embeddings)
    m.push_back({"lm_head.weight", "output.weight"});
  return m;
}

/// Our shape in GGUF's ne order (reversed nn.Linear shape).
std::vector<std::int64_t> ggufNe(const std::string &ours,
                                 const std::vector<std::int64_t> &shape) {
  if (shape.size() == 1)
    return shape;
  if (isLinearWeight(ours)) // [in, out] -> nn.Linear [out, in] -> ne {in, out}
    return {shape[0], shape[1]};
  return {shape[1], shape[0]}; // [rows, d] -> ne {d, rows}
}

Tensor ggufToF32(const GgufTensor &t, const std::string &where) {
  Tensor raw;
  switch (t.type) {
  case GgmlType::F32:
    raw.dtype = DType::F32;
    break;
  case GgmlType::F16:
    raw.dtype = DType::F16;
    break;
  case GgmlType::BF16:
    raw.dtype = DType::BF16;
    break;
  default:
    fail(where, "tensor '" + t.name + "' has type " +
                    ggmlTypeName(static_cast<std::uint32_t>(t.type)) +
                    " (supported: F32, F16, BF16; quantized models cannot be "
                    "imported)");
  }
  raw.shape.assign(t.ne.rbegin(), t.ne.rend());
  raw.data = t.data;
  return toF32(std::move(raw), where, t.name);
}

std::uint64_t ggufUInt(const GgufFile &f, const std::string &key,
                       const std::string &where, bool required = true,
                       std::uint64_t def = 0) {
  const GgufValue *v = f.find(key);
  if (!v) {
    if (required)
      fail(where, "missing key '" + key + "'");
    return def;
  }
  if (!v->isInteger())
    fail(where, "key '" + key + "' is a " + ggufTypeName(v->type) +
                    ", expected an integer");
  bool isSigned = v->type == GgufType::Int8 || v->type == GgufType::Int16 ||
                  v->type == GgufType::Int32 || v->type == GgufType::Int64;
  if (isSigned && v->i < 0)
    fail(where, "key '" + key + "' is negative");
  return static_cast<std::uint64_t>(v->i);
}

std::string ggufString(const GgufFile &f, const std::string &key,
                       const std::string &where, bool required = true) {
  const GgufValue *v = f.find(key);
  if (!v) {
    if (required)
      fail(where, "missing key '" + key + "'");
    return "";
  }
  if (v->type != GgufType::String)
    fail(where, "key '" + key + "' is a " + ggufTypeName(v->type) +
                    ", expected a string");
  return v->s;
}

const char *kChatMlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + "
    "'\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif "
    "%}";

double shortestDecimal(float f) {
  for (int prec = 1; prec <= 9; ++prec) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*g", prec, static_cast<double>(f));
    double d = std::strtod(buf, nullptr);
    if (static_cast<float>(d) == f)
      return d;
  }
  return f;
}

// llama.cpp token types (llama_token_type).
constexpr std::int32_t kTokNormal = 1, kTokControl = 3, kTokUserDefined = 4,
                       kTokUnused = 5;

} // namespace

void checkParameters(const ModelBundle &m, const std::string &where) {
  std::set<std::string> expected;
  for (const ParamSpec &s : parameterSpecs(m.config)) {
    expected.insert(s.name);
    auto it = m.params.find(s.name);
    if (it == m.params.end())
      fail(where, "missing tensor '" + s.name + "'");
    if (it->second.dtype != DType::F32)
      fail(where, "tensor '" + s.name + "' is not F32");
    if (it->second.shape != s.shape)
      fail(where, "tensor '" + s.name + "' has shape " +
                      shapeStr(it->second.shape) + ", expected " +
                      shapeStr(s.shape));
  }
  for (const auto &kv : m.params)
    if (!expected.count(kv.first))
      fail(where, "unexpected tensor '" + kv.first + "'");
}

void padVocabulary(ModelBundle &m, std::int64_t vocab) {
  std::int64_t old = m.config.vocab_size;
  if (vocab <= old)
    return;
  const std::int64_t d = m.config.d_model;
  for (const char *name : {"wte.weight", "lm_head.weight"}) {
    auto it = m.params.find(name);
    if (it == m.params.end())
      continue;
    Tensor &t = it->second;
    std::vector<double> mean(static_cast<std::size_t>(d), 0.0);
    const float *p = t.f32();
    for (std::int64_t r = 0; r < old; ++r)
      for (std::int64_t k = 0; k < d; ++k)
        mean[k] += p[r * d + k];
    t.data.resize(static_cast<std::size_t>(vocab * d) * 4);
    float *q = t.f32();
    for (std::int64_t r = old; r < vocab; ++r)
      for (std::int64_t k = 0; k < d; ++k)
        q[r * d + k] = static_cast<float>(mean[k] / static_cast<double>(old));
    t.shape[0] = vocab;
  }
  m.notes.push_back("vocabulary grown from " + std::to_string(old) + " to " +
                    std::to_string(vocab) +
                    " rows (new rows = mean of the existing embeddings)");
  m.config.vocab_size = vocab;
}

// ---- Hugging Face ---------------------------------------------------------

/// GPT-2's vocab.json (or encoder.json) and merges.txt (or vocab.bpe) as a
/// tokenizer with the chat specials; more tokens than `vocabSize` is an
/// error naming the file.
static std::unique_ptr<tokenizer::Tokenizer>
gpt2TokenizerFromFiles(const fs::path &vocabJson, const fs::path &mergesTxt,
                       std::int64_t vocabSize) {
  tokenizer::VocabFiles vf;
  try {
    vf = tokenizer::readVocabFiles(vocabJson, mergesTxt);
  } catch (const std::exception &e) {
    throw InteropError(e.what());
  }
  std::int64_t n = static_cast<std::int64_t>(vf.tokens.size());
  if (n > vocabSize)
    fail(vocabJson.string(), std::to_string(n) +
                                 " tokens but the model has vocab_size " +
                                 std::to_string(vocabSize));
  return tokenizerFromGpt2(std::move(vf.tokens), std::move(vf.merges), {},
                           vocabJson.string());
}

ModelBundle randomGpt2(const ModelConfig &config, const fs::path &vocabJson,
                       const fs::path &mergesTxt, std::uint64_t seed) {
  try {
    validateModelConfig(config, "config");
  } catch (const ConfigError &e) {
    throw InteropError(e.what());
  }
  ModelBundle m;
  m.config = config;
  m.tokenizer = gpt2TokenizerFromFiles(vocabJson, mergesTxt, config.vocab_size);
  m.params = train::initParameters(config, seed);
  // The chat specials (<|im_start|>, <|im_end|>) get rows, as on import.
  padVocabulary(m, static_cast<std::int64_t>(m.tokenizer->vocabSize()));
  return m;
}

ModelBundle importHfGpt2(const fs::path &dir) {
  if (!fs::is_directory(dir))
    throw InteropError(dir.string() + ": not a directory");
  fs::path cfgPath = dir / "config.json";
  std::string where = cfgPath.string();
  nlohmann::json cfg;
  try {
    cfg = nlohmann::json::parse(io::readFile(cfgPath));
  } catch (const nlohmann::json::exception &e) {
    fail(where, std::string("not valid JSON: ") + e.what());
  } catch (const std::runtime_error &e) {
    throw InteropError(e.what());
  }
  if (!cfg.is_object())
    fail(where, "not a JSON object");
  if (const auto *mt = jsonKey(cfg, "model_type"))
    if (!mt->is_string() || mt->get<std::string>() != "gpt2")
      fail(where,
           "model_type is " + mt->dump() + ", only \"gpt2\" is supported");
  if (const auto *act = jsonKey(cfg, "activation_function")) {
    std::string a = act->is_string() ? act->get<std::string>() : act->dump();
    if (a != "gelu_new" && a != "gelu_pytorch_tanh" && a != "gelu_fast")
      fail(where,
           "activation_function '" + a +
               "' is not supported (the runtime uses GPT-2's tanh GELU)");
  }
  for (const char *k :
       {"scale_attn_by_inverse_layer_idx", "add_cross_attention"})
    if (const auto *v = jsonKey(cfg, k))
      if (v->is_boolean() && v->get<bool>())
        fail(where, std::string(k) + " = true is not supported");
  if (const auto *v = jsonKey(cfg, "scale_attn_weights"))
    if (v->is_boolean() && !v->get<bool>())
      fail(where, "scale_attn_weights = false is not supported");

  ModelBundle m;
  ModelConfig &c = m.config;
  c.vocab_size = jsonInt(cfg, "vocab_size", where);
  c.context_length = jsonKey(cfg, "n_positions")
                         ? jsonInt(cfg, "n_positions", where)
                         : jsonInt(cfg, "n_ctx", where);
  c.n_layer = jsonInt(cfg, "n_layer", where);
  c.n_head = jsonInt(cfg, "n_head", where);
  c.d_model = jsonInt(cfg, "n_embd", where);
  c.d_ff = jsonInt(cfg, "n_inner", where, 4 * c.d_model);
  c.layernorm_eps = 1e-5;
  if (const auto *e = jsonKey(cfg, "layer_norm_epsilon")) {
    if (!e->is_number() || !(e->get<double>() > 0))
      fail(where, "layer_norm_epsilon must be a positive number");
    c.layernorm_eps = e->get<double>();
  }
  c.tie_embeddings = true;
  if (const auto *t = jsonKey(cfg, "tie_word_embeddings")) {
    if (!t->is_boolean())
      fail(where, "tie_word_embeddings must be a boolean");
    c.tie_embeddings = t->get<bool>();
  }
  try {
    validateModelConfig(c, where);
  } catch (const ConfigError &e) {
    throw InteropError(e.what());
  }

  // Tokenizer: vocab.json (token text -> id) + merges.txt, GPT-2's formats.
  fs::path vocabJson = dir / "vocab.json", mergesTxt = dir / "merges.txt";
  m.tokenizer = gpt2TokenizerFromFiles(vocabJson, mergesTxt, c.vocab_size);

  // Weights: with or without the "transformer." prefix.
  std::map<std::string, Tensor> raw = readHfWeights(dir);
  fs::path wfile = fs::exists(dir / "model.safetensors")
                       ? dir / "model.safetensors"
                       : dir / "model.safetensors.index.json";
  std::string wwhere = wfile.string();
  std::set<std::string> wanted;
  for (const ParamSpec &s : parameterSpecs(c))
    wanted.insert(s.name);
  int ignored = 0;
  bool sawLmHead = false;
  for (auto &[name, t] : raw) {
    std::string ours = name;
    if (ours.rfind("transformer.", 0) == 0)
      ours = ours.substr(12);
    auto endsWith = [&](const char *s) {
      std::string suf = s;
      return ours.size() >= suf.size() &&
             ours.compare(ours.size() - suf.size(), suf.size(), suf) == 0;
    };
    if (endsWith(".attn.bias") || endsWith(".attn.masked_bias")) {
      ++ignored; // causal-mask buffers, not parameters
      continue;
    }
    if (ours == "lm_head.weight" && c.tie_embeddings) {
      sawLmHead = true; // tied: transformers overwrites it with wte as well
      continue;
    }
    if (!wanted.count(ours))
      fail(wwhere, "unexpected tensor '" + name + "'");
    if (m.params.count(ours))
      fail(wwhere, "tensor '" + ours +
                       "' appears both with and without the 'transformer.' "
                       "prefix");
    m.params.emplace(ours, toF32(std::move(t), wwhere, name));
  }
  (void)sawLmHead;
  if (ignored)
    m.notes.push_back("ignored " + std::to_string(ignored) +
                      " attention-mask buffers (attn.bias / attn.masked_bias)");
  checkParameters(m, wwhere);
  padVocabulary(m, static_cast<std::int64_t>(m.tokenizer->vocabSize()));
  return m;
}

// ---- GGUF -----------------------------------------------------------------

GgufFile gpt2ToGguf(const ModelBundle &m, GgufDType dtype,
                    const std::string &name) {
  const ModelConfig &c = m.config;
  if (c.rope) // llama.cpp's gpt2 architecture has learned positions only
    throw InteropError("gguf export: the model uses rotary positions "
                       "(position_encoding \"rope\"); GGUF export writes "
                       "llama.cpp's gpt2 architecture, which has learned "
                       "positions only");
  checkParameters(m, "gguf export");
  if (!m.tokenizer)
    throw InteropError("gguf export: the model has no tokenizer");
  const tokenizer::Tokenizer &tok = *m.tokenizer;
  const std::int64_t V = c.vocab_size;
  if (static_cast<std::int64_t>(tok.vocabSize()) > V)
    throw InteropError("gguf export: the tokenizer has " +
                       std::to_string(tok.vocabSize()) +
                       " tokens but the model only " + std::to_string(V));
  auto u32 = [](std::int64_t v) {
    if (v < 0 || v > std::numeric_limits<std::uint32_t>::max())
      throw InteropError("gguf export: value out of uint32 range");
    return GgufValue::u32(static_cast<std::uint32_t>(v));
  };

  GgufFile f;
  f.set("general.architecture", GgufValue::str("gpt2"));
  f.set("general.name", GgufValue::str(name));
  f.set("general.file_type", u32(dtype == GgufDType::F16 ? 1 : 0));
  f.set("gpt2.context_length", u32(c.context_length));
  f.set("gpt2.embedding_length", u32(c.d_model));
  f.set("gpt2.feed_forward_length", u32(c.d_ff));
  f.set("gpt2.block_count", u32(c.n_layer));
  f.set("gpt2.attention.head_count", u32(c.n_head));
  f.set("gpt2.attention.layer_norm_epsilon",
        GgufValue::f32(static_cast<float>(c.layernorm_eps)));

  std::vector<std::string> tokens;
  std::vector<std::int32_t> types;
  tokens.reserve(static_cast<std::size_t>(V));
  for (std::size_t id = 0; id < tok.mergeableSize(); ++id) {
    tokens.push_back(tokenizer::byte_level::encode(
        tok.model().bytes(static_cast<tokenizer::TokenId>(id))));
    types.push_back(kTokNormal);
  }
  for (const auto &s : tok.specialTokens()) {
    tokens.push_back(s.text);
    types.push_back(kTokControl);
  }
  for (std::int64_t id = static_cast<std::int64_t>(tokens.size()); id < V;
       ++id) {
    tokens.push_back("<|pad_" + std::to_string(id) + "|>");
    types.push_back(kTokUnused);
  }
  std::vector<std::string> merges;
  merges.reserve(tok.merges().size());
  for (const auto &[l, r] : tok.merges())
    merges.push_back(tokenizer::byte_level::encode(l) + " " +
                     tokenizer::byte_level::encode(r));
  f.set("tokenizer.ggml.model", GgufValue::str("gpt2"));
  f.set("tokenizer.ggml.pre", GgufValue::str("gpt-2"));
  f.set("tokenizer.ggml.tokens", GgufValue::stringArray(std::move(tokens)));
  f.set("tokenizer.ggml.token_type", GgufValue::int32Array(std::move(types)));
  f.set("tokenizer.ggml.merges", GgufValue::stringArray(std::move(merges)));
  if (auto eot = tok.specialId(tokenizer::kEndOfText)) {
    f.set("tokenizer.ggml.bos_token_id", u32(*eot));
    f.set("tokenizer.ggml.eos_token_id", u32(*eot));
  }
  f.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(false));
  if (auto imEnd = tok.specialId(tokenizer::kImEnd)) {
    f.set("tokenizer.ggml.eot_token_id", u32(*imEnd));
    if (tok.specialId(tokenizer::kImStart))
      f.set("tokenizer.chat_template", GgufValue::str(kChatMlTemplate));
  }

  auto addTensor = [&](const std::string &ggufName, const Tensor &ours,
                       bool linear) {
    Tensor t = linear ? transpose2d(ours) : ours; // now nn.Linear layout
    GgufTensor g;
    g.name = ggufName;
    g.ne.assign(t.shape.rbegin(), t.shape.rend());
    const float *p = t.f32();
    std::int64_t n = t.numel();
    if (dtype == GgufDType::F16 && t.shape.size() == 2) {
      g.type = GgmlType::F16;
      g.data.resize(static_cast<std::size_t>(n) * 2);
      for (std::int64_t i = 0; i < n; ++i) {
        std::uint16_t h = floatToHalf(p[i]);
        g.data[2 * i] = static_cast<std::uint8_t>(h & 0xff);
        g.data[2 * i + 1] = static_cast<std::uint8_t>(h >> 8);
      }
    } else {
      g.type = GgmlType::F32;
      g.data = t.data;
    }
    f.tensors.push_back(std::move(g));
  };
  for (const NameMap &nm : ggufNames(c))
    addTensor(nm.gguf, m.params.at(nm.ours), isLinearWeight(nm.ours));
  if (c.tie_embeddings)
    addTensor("output.weight", m.params.at("wte.weight"), false);
  return f;
}

ModelBundle gpt2FromGguf(const GgufFile &f, const std::string &where) {
  std::string arch = ggufString(f, "general.architecture", where);
  if (arch != "gpt2")
    fail(where, "general.architecture is '" + arch +
                    "', only 'gpt2' models can be imported");
  ModelBundle m;
  ModelConfig &c = m.config;
  auto dim = [&](const std::string &key, bool required = true,
                 std::uint64_t def = 0) -> std::int64_t {
    std::uint64_t v = ggufUInt(f, key, where, required, def);
    if (v == 0 || v > (1u << 31))
      fail(where,
           "key '" + key + "' = " + std::to_string(v) + " is out of range");
    return static_cast<std::int64_t>(v);
  };
  c.context_length = dim("gpt2.context_length");
  c.d_model = dim("gpt2.embedding_length");
  c.n_layer = dim("gpt2.block_count");
  if (c.n_layer > 4096)
    fail(where, "gpt2.block_count " + std::to_string(c.n_layer) + " is absurd");
  c.n_head = dim("gpt2.attention.head_count");
  c.d_ff = dim("gpt2.feed_forward_length", false, 4 * c.d_model);
  c.layernorm_eps = 1e-5;
  if (const GgufValue *e = f.find("gpt2.attention.layer_norm_epsilon")) {
    if (e->type != GgufType::Float32 && e->type != GgufType::Float64)
      fail(where, "key 'gpt2.attention.layer_norm_epsilon' is a " +
                      std::string(ggufTypeName(e->type)) +
                      ", expected a float");
    if (!(e->f > 0) || !std::isfinite(e->f))
      fail(where, "gpt2.attention.layer_norm_epsilon must be positive");
    // Stored as float32: take the shortest decimal that rounds to the same
    // float (1e-5, not 9.99999974737875e-06), so configs survive a round trip.
    c.layernorm_eps = shortestDecimal(static_cast<float>(e->f));
  }

  // Tokenizer.
  std::string tmodel = ggufString(f, "tokenizer.ggml.model", where);
  if (tmodel != "gpt2")
    fail(where, "tokenizer.ggml.model is '" + tmodel +
                    "', only byte-level BPE ('gpt2') is supported");
  std::string pre = ggufString(f, "tokenizer.ggml.pre", where, false);
  if (!pre.empty() && pre != "gpt-2" && pre != "default")
    fail(where, "tokenizer.ggml.pre is '" + pre +
                    "': only GPT-2's pre-tokenizer ('gpt-2') is implemented");
  const GgufValue *tokv = f.find("tokenizer.ggml.tokens");
  if (!tokv || tokv->type != GgufType::Array ||
      tokv->elemType != GgufType::String)
    fail(where, "missing or non-string-array key 'tokenizer.ggml.tokens'");
  const GgufValue *mergev = f.find("tokenizer.ggml.merges");
  if (!mergev || mergev->type != GgufType::Array ||
      mergev->elemType != GgufType::String)
    fail(where, "missing or non-string-array key 'tokenizer.ggml.merges'");
  const GgufValue *typev = f.find("tokenizer.ggml.token_type");
  if (typev &&
      (typev->type != GgufType::Array || typev->elemType == GgufType::String ||
       typev->elemType == GgufType::Float32 ||
       typev->elemType == GgufType::Float64 ||
       typev->arraySize() != tokv->strings.size()))
    fail(where, "tokenizer.ggml.token_type must be an integer array with one "
                "entry per token");
  const std::int64_t V = static_cast<std::int64_t>(tokv->strings.size());
  if (V == 0 || V > (1ll << 31))
    fail(where, "tokenizer.ggml.tokens has " + std::to_string(V) + " entries");
  c.vocab_size = V;
  // Ordinary tokens first, then control / user-defined (our specials), then
  // unused padding rows.
  std::vector<std::string> ordinary, specials;
  int phase = 0;
  for (std::int64_t id = 0; id < V; ++id) {
    std::int64_t type = typev ? typev->ints[id] : kTokNormal;
    const std::string &text = tokv->strings[id];
    std::string at = "tokenizer.ggml.tokens[" + std::to_string(id) + "]";
    int want = type == kTokNormal                                 ? 0
               : (type == kTokControl || type == kTokUserDefined) ? 1
               : type == kTokUnused                               ? 2
                                                                  : -1;
    if (want < 0)
      fail(where,
           at + ": token type " + std::to_string(type) + " is not supported");
    if (want == 0 && (text == tokenizer::kEndOfText ||
                      text == tokenizer::kImStart || text == tokenizer::kImEnd))
      want = 1; // our special tokens, also when the file has no token types
    if (want < phase)
      fail(where, at + " ('" + text +
                      "'): ordinary tokens must come before special tokens, "
                      "and those before unused ones");
    phase = want;
    if (want == 0) {
      try {
        ordinary.push_back(tokenizer::byte_level::decode(text));
      } catch (const std::exception &) {
        fail(where, at + " is not GPT-2 byte-level text");
      }
    } else if (want == 1) {
      specials.push_back(text);
    }
  }
  std::vector<std::pair<std::string, std::string>> merges;
  for (std::size_t k = 0; k < mergev->strings.size(); ++k) {
    const std::string &s = mergev->strings[k];
    std::size_t sp = s.find(' ');
    std::string at = "tokenizer.ggml.merges[" + std::to_string(k) + "]";
    if (sp == std::string::npos || sp == 0 || sp + 1 >= s.size() ||
        s.find(' ', sp + 1) != std::string::npos)
      fail(where, at + " is not 'left right'");
    try {
      merges.emplace_back(tokenizer::byte_level::decode(s.substr(0, sp)),
                          tokenizer::byte_level::decode(s.substr(sp + 1)));
    } catch (const std::exception &) {
      fail(where, at + " is not GPT-2 byte-level text");
    }
  }
  m.tokenizer = tokenizerFromGpt2(std::move(ordinary), std::move(merges),
                                  std::move(specials), where);

  // Tensors.
  const GgufTensor *embd = f.findTensor("token_embd.weight");
  const GgufTensor *out = f.findTensor("output.weight");
  c.tie_embeddings = true;
  if (out && embd) {
    if (out->type != embd->type || out->ne != embd->ne ||
        out->data != embd->data)
      c.tie_embeddings = false;
  }
  try {
    validateModelConfig(c, where);
  } catch (const ConfigError &e) {
    throw InteropError(e.what());
  }
  // Maps, not scans: a hostile file may hold many tensors and layers.
  std::map<std::string_view, const GgufTensor *> byName;
  for (const GgufTensor &t : f.tensors)
    byName.emplace(t.name, &t);
  std::map<std::string, std::vector<std::int64_t>> shapes;
  for (ParamSpec &s : parameterSpecs(c))
    shapes.emplace(std::move(s.name), std::move(s.shape));
  std::set<std::string> used;
  for (const NameMap &nm : ggufNames(c)) {
    auto found = byName.find(nm.gguf);
    if (found == byName.end())
      fail(where, "missing tensor '" + nm.gguf + "'");
    const GgufTensor *t = found->second;
    used.insert(nm.gguf);
    std::vector<std::int64_t> ne = ggufNe(nm.ours, shapes.at(nm.ours));
    if (t->ne != ne)
      fail(where, "tensor '" + nm.gguf + "' has ne " + shapeStr(t->ne) +
                      ", expected " + shapeStr(ne) + " for this config");
    Tensor v = ggufToF32(*t, where);
    m.params.emplace(nm.ours, isLinearWeight(nm.ours) ? transpose2d(v) : v);
  }
  if (c.tie_embeddings && out)
    used.insert("output.weight");
  for (const GgufTensor &t : f.tensors)
    if (!used.count(t.name))
      fail(where, "unexpected tensor '" + t.name + "'");
  checkParameters(m, where);
  padVocabulary(m, static_cast<std::int64_t>(m.tokenizer->vocabSize()));
  return m;
}

// ---- run directories -----------------------------------------------------

ModelBundle readRunModel(const fs::path &runDir) {
  if (!fs::is_directory(runDir))
    throw InteropError(runDir.string() + ": not a run directory");
  ModelBundle m;
  try {
    m.config = loadModelConfig((runDir / "config.json").string());
  } catch (const ConfigError &e) {
    throw InteropError(e.what());
  }
  fs::path mp = runDir / "model.safetensors";
  m.params = io::readSafetensors(mp).tensors;
  try {
    m.tokenizer = std::make_unique<tokenizer::Tokenizer>(
        tokenizer::Tokenizer::load(runDir / "tokenizer"));
  } catch (const std::exception &e) {
    throw InteropError(e.what());
  }
  checkParameters(m, mp.string());
  return m;
}

void writeRunModel(const fs::path &runDir, const ModelBundle &m,
                   const std::string &producer, bool overwrite) {
  checkParameters(m, runDir.string());
  if (!overwrite && fs::exists(runDir / "model.safetensors"))
    throw InteropError(runDir.string() +
                       ": already holds a model.safetensors (use --force to "
                       "replace it)");
  fs::create_directories(runDir);
  io::writeFileAtomic(runDir / "config.json",
                      modelConfigToJson(m.config) + "\n");
  if (m.tokenizer)
    m.tokenizer->save(runDir / "tokenizer");
  io::SafetensorsFile st;
  st.metadata = {{"format", "pt"}, {"step", "0"}, {"producer", producer}};
  st.tensors = m.params;
  io::writeSafetensors(runDir / "model.safetensors", st);
}

} // namespace gpt::interop
