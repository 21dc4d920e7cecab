//===- TestModels.h ---------------------------------------------*- C++ -*-===//
//
// Shared helpers of the interop tests: a tiny GPT-2 written in Hugging
// Face's layout, a reference forward pass computed directly from the
// weights, and the executor's logits for a run directory.
#pragma once

#include "runtime/interop/Gpt2Interop.h"
#include "runtime/io/ArtifactCache.h"
#include "runtime/io/Safetensors.h"
#include "runtime/tokenizer/ByteLevel.h"
#include "runtime/train/Checkpoint.h"
#include "runtime/train/ExecutorRunner.h"
#include "runtime/train/Trainer.h"
#include "schema/ModelConfig.h"
#include "schema/Parameters.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace itest {
namespace fs = std::filesystem;
using gpt::ModelConfig;
using gpt::io::DType;
using gpt::io::Tensor;

inline fs::path tempRoot() {
  static fs::path root = [] {
    fs::path p = fs::temp_directory_path() /
                 ("gpt_interop_test_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return root;
}

inline fs::path freshDir(const std::string &name) {
  fs::path p = tempRoot() / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

inline void writeText(const fs::path &p, const std::string &s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
}

inline std::string readBytes(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// The tiny vocabulary: 256 byte tokens in GPT-2's order, the merges
/// h+e, l+l, he+ll, o+' ' ... and <|endoftext|> last (as GPT-2's vocab.json).
inline std::vector<std::pair<std::string, std::string>> tinyMerges() {
  return {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {" ", "w"}, {"hell", "o"}};
}
inline std::vector<std::string> tinyTokens() {
  std::vector<std::string> t;
  for (std::uint8_t b : gpt::tokenizer::byte_level::byteOrder())
    t.push_back(std::string(1, static_cast<char>(b)));
  for (const auto &m : tinyMerges())
    t.push_back(m.first + m.second);
  t.push_back("<|endoftext|>");
  return t;
}

inline ModelConfig tinyConfig(bool tied) {
  ModelConfig c;
  c.vocab_size = static_cast<std::int64_t>(tinyTokens().size()); // 262
  c.context_length = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.d_model = 16;
  c.d_ff = 64;
  c.tie_embeddings = tied;
  return c;
}

/// Random weights with our names (= HF names without "transformer.").
inline std::map<std::string, Tensor> randomParams(const ModelConfig &c,
                                                  unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 0.3f);
  std::map<std::string, Tensor> out;
  for (const gpt::ParamSpec &s : gpt::parameterSpecs(c)) {
    std::int64_t count = 1;
    for (auto d : s.shape)
      count *= d;
    std::vector<float> v(static_cast<std::size_t>(count));
    for (auto &x : v)
      x = n(rng) + (s.kind == gpt::ParamKind::LayerNormGain ? 1.0f : 0.0f);
    out[s.name] = Tensor::fromF32(s.shape, v);
  }
  return out;
}

inline Tensor toDType(const Tensor &t, DType d);

struct HfOptions {
  bool prefix = true;      // "transformer.h.0..." names
  bool maskBuffers = true; // attn.bias / attn.masked_bias
  bool lmHeadWhenTied = false;
  DType dtype = DType::F32;
};

/// Writes config.json, model.safetensors, vocab.json, merges.txt.
inline fs::path writeHfCheckpoint(const std::string &name, const ModelConfig &c,
                                  const std::map<std::string, Tensor> &params,
                                  const HfOptions &o = {}) {
  fs::path dir = freshDir(name);
  nlohmann::json cfg = {{"architectures", {"GPT2LMHeadModel"}},
                        {"model_type", "gpt2"},
                        {"activation_function", "gelu_new"},
                        {"vocab_size", c.vocab_size},
                        {"n_positions", c.context_length},
                        {"n_ctx", c.context_length},
                        {"n_embd", c.d_model},
                        {"n_layer", c.n_layer},
                        {"n_head", c.n_head},
                        {"n_inner", nullptr},
                        {"layer_norm_epsilon", 1e-5},
                        {"resid_pdrop", 0.1},
                        {"scale_attn_weights", true},
                        {"tie_word_embeddings", c.tie_embeddings},
                        {"torch_dtype", "float32"}};
  if (c.d_ff != 4 * c.d_model)
    cfg["n_inner"] = c.d_ff;
  writeText(dir / "config.json", cfg.dump(2));
  gpt::io::SafetensorsFile st;
  st.metadata = {{"format", "pt"}};
  const std::string pre = o.prefix ? "transformer." : "";
  for (const auto &[n, t] : params) {
    std::string hf = n == "lm_head.weight" ? n : pre + n;
    st.tensors[hf] = toDType(t, o.dtype);
  }
  if (c.tie_embeddings && o.lmHeadWhenTied)
    st.tensors["lm_head.weight"] = toDType(params.at("wte.weight"), o.dtype);
  if (o.maskBuffers)
    for (std::int64_t l = 0; l < c.n_layer; ++l) {
      std::string h = pre + "h." + std::to_string(l) + ".attn.";
      std::int64_t T = c.context_length;
      std::vector<float> mask(static_cast<std::size_t>(T * T));
      for (std::int64_t i = 0; i < T; ++i)
        for (std::int64_t j = 0; j <= i; ++j)
          mask[i * T + j] = 1;
      st.tensors[h + "bias"] = Tensor::fromF32({1, 1, T, T}, mask);
      st.tensors[h + "masked_bias"] = Tensor::fromF32({}, {-1e4f});
    }
  gpt::io::writeSafetensors(dir / "model.safetensors", st);
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  std::vector<std::string> toks = tinyTokens();
  for (std::size_t i = 0; i < toks.size(); ++i)
    vocab[i + 1 == toks.size() ? toks[i]
                               : gpt::tokenizer::byte_level::encode(toks[i])] =
        i;
  writeText(dir / "vocab.json", vocab.dump());
  std::string merges = "#version: 0.2\n";
  for (const auto &m : tinyMerges())
    merges += gpt::tokenizer::byte_level::encode(m.first) + " " +
              gpt::tokenizer::byte_level::encode(m.second) + "\n";
  writeText(dir / "merges.txt", merges);
  return dir;
}

inline std::uint16_t f32ToF16Bits(float f);

inline Tensor toDType(const Tensor &t, DType d) {
  if (d == DType::F32)
    return t;
  Tensor out;
  out.dtype = d;
  out.shape = t.shape;
  const float *p = t.f32();
  out.data.resize(static_cast<std::size_t>(t.numel()) * 2);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    std::uint16_t h;
    if (d == DType::BF16) {
      std::uint32_t u;
      std::memcpy(&u, &p[i], 4);
      h = static_cast<std::uint16_t>(u >> 16); // truncation is fine here
    } else {
      h = f32ToF16Bits(p[i]);
    }
    out.data[2 * i] = static_cast<std::uint8_t>(h & 0xff);
    out.data[2 * i + 1] = static_cast<std::uint8_t>(h >> 8);
  }
  return out;
}

/// Simple binary16 conversion for test data (values are normal numbers).
inline std::uint16_t f32ToF16Bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000);
  int e = static_cast<int>((u >> 23) & 0xff) - 127 + 15;
  std::uint32_t man = u & 0x7fffff;
  if (e <= 0)
    return sign;
  std::uint32_t h = (static_cast<std::uint32_t>(e) << 10) | (man >> 13);
  if ((man & 0x1fff) > 0x1000 || ((man & 0x1fff) == 0x1000 && (h & 1)))
    ++h;
  return sign | static_cast<std::uint16_t>(h);
}

/// GPT-2's forward pass written out plainly (double accumulation, exact
/// tanh GELU): logits [T, V] for one sequence.
inline std::vector<float>
referenceLogits(const ModelConfig &c, const std::map<std::string, Tensor> &p,
                const std::vector<std::int32_t> &tokens) {
  const std::int64_t T = static_cast<std::int64_t>(tokens.size()),
                     D = c.d_model, H = c.n_head, hd = D / H, F = c.d_ff,
                     V = c.vocab_size;
  auto W = [&](const std::string &n) { return p.at(n).f32(); };
  std::vector<double> x(static_cast<std::size_t>(T * D));
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t k = 0; k < D; ++k)
      x[t * D + k] =
          W("wte.weight")[tokens[t] * D + k] + W("wpe.weight")[t * D + k];
  auto layerNorm = [&](const std::vector<double> &in, const std::string &n) {
    std::vector<double> out(in.size());
    const float *g = W(n + ".weight"), *b = W(n + ".bias");
    for (std::int64_t t = 0; t < T; ++t) {
      double mean = 0, var = 0;
      for (std::int64_t k = 0; k < D; ++k)
        mean += in[t * D + k];
      mean /= D;
      for (std::int64_t k = 0; k < D; ++k)
        var += (in[t * D + k] - mean) * (in[t * D + k] - mean);
      var /= D;
      double inv = 1.0 / std::sqrt(var + c.layernorm_eps);
      for (std::int64_t k = 0; k < D; ++k)
        out[t * D + k] = (in[t * D + k] - mean) * inv * g[k] + b[k];
    }
    return out;
  };
  // Conv1D: y = x W + b with W [in, out].
  auto conv1d = [&](const std::vector<double> &in, std::int64_t nin,
                    std::int64_t nout, const std::string &n) {
    std::vector<double> out(static_cast<std::size_t>(T * nout));
    const float *w = W(n + ".weight"), *b = W(n + ".bias");
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t o = 0; o < nout; ++o) {
        double s = b[o];
        for (std::int64_t i = 0; i < nin; ++i)
          s += in[t * nin + i] * w[i * nout + o];
        out[t * nout + o] = s;
      }
    return out;
  };
  for (std::int64_t l = 0; l < c.n_layer; ++l) {
    std::string h = "h." + std::to_string(l) + ".";
    auto a = layerNorm(x, h + "ln_1");
    auto qkv = conv1d(a, D, 3 * D, h + "attn.c_attn");
    std::vector<double> y(static_cast<std::size_t>(T * D), 0.0);
    for (std::int64_t head = 0; head < H; ++head)
      for (std::int64_t i = 0; i < T; ++i) {
        std::vector<double> s(static_cast<std::size_t>(i + 1));
        double mx = -1e300;
        for (std::int64_t j = 0; j <= i; ++j) {
          double dot = 0;
          for (std::int64_t k = 0; k < hd; ++k)
            dot += qkv[i * 3 * D + head * hd + k] *
                   qkv[j * 3 * D + D + head * hd + k];
          s[j] = dot / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (auto &v : s)
          z += (v = std::exp(v - mx));
        for (std::int64_t j = 0; j <= i; ++j)
          for (std::int64_t k = 0; k < hd; ++k)
            y[i * D + head * hd + k] +=
                s[j] / z * qkv[j * 3 * D + 2 * D + head * hd + k];
      }
    auto proj = conv1d(y, D, D, h + "attn.c_proj");
    for (std::size_t i = 0; i < x.size(); ++i)
      x[i] += proj[i];
    auto m = layerNorm(x, h + "ln_2");
    auto f = conv1d(m, D, F, h + "mlp.c_fc");
    for (auto &v : f)
      v = 0.5 * v *
          (1 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    auto down = conv1d(f, F, D, h + "mlp.c_proj");
    for (std::size_t i = 0; i < x.size(); ++i)
      x[i] += down[i];
  }
  auto hf = layerNorm(x, "ln_f");
  const float *head = c.tie_embeddings ? W("wte.weight") : W("lm_head.weight");
  std::vector<float> logits(static_cast<std::size_t>(T * V));
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t v = 0; v < V; ++v) {
      double s = 0;
      for (std::int64_t k = 0; k < D; ++k)
        s += hf[t * D + k] * head[v * D + k];
      logits[t * V + v] = static_cast<float>(s);
    }
  return logits;
}

/// Compiles the run directory's config with the gptc of this build into
/// RUN/artifact.gptart. Returns false (with the log) when that fails.
/// True when this build has gptc (GPT_BUILD_COMPILER): only then can a test
/// compile a run directory's artifact.
constexpr bool kHaveGptc =
#ifdef GPT_HAVE_GPTC
    true;
#else
    false;
#endif

/// Compiles the run directory's artifact with gptc. Returns false (with
/// gptc's output in `log`) when gptc fails: callers must fail the test then,
/// since gptc was built (check kHaveGptc first to skip a compiler-less build).
inline bool compileRunArtifact(const fs::path &runDir, std::string &log) {
#ifdef GPT_HAVE_GPTC
  std::vector<std::string> argv = {std::string(GPT_BINARY_DIR) + "/bin/gptc",
                                   "--config",
                                   (runDir / "config.json").string(),
                                   "--emit=artifact",
                                   "-o",
                                   (runDir / "artifact.gptart").string()};
  return gpt::io::runProcess(argv, log) == 0;
#else
  (void)runDir;
  log = "built without the compiler";
  return false;
#endif
}

/// forward() of the run directory's artifact and weights: logits [T, V].
inline std::vector<float>
executorLogits(const fs::path &runDir, const std::vector<std::int32_t> &toks) {
  ModelConfig c = gpt::loadModelConfig((runDir / "config.json").string());
  gpt::train::ExecutorRunner runner(runDir / "artifact.gptart", 1);
  gpt::train::Trainer model(runner, c, gpt::train::Hyperparams{}, false);
  gpt::train::loadWeights(runDir, model);
  auto r = model.forward(toks, 1, static_cast<std::int64_t>(toks.size()));
  return r.values;
}

} // namespace itest
