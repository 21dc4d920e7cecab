//===- HfImportTest.cpp ---------------------------------------------------===//
//
// `gpt import hf`: tiny GPT-2 checkpoints written in exactly Hugging Face's
// layout (Conv1D weights, "transformer." prefix or not, lm_head omitted when
// tied, causal-mask buffers, F16 weights, sharded index) become run
// directories whose executor logits match a plain reference forward pass.
#include "TestModels.h"

#include "runtime/tokenizer/Tokenizer.h"
#include "runtime/train/Init.h"

using namespace itest;
using gpt::interop::importHfGpt2;
using gpt::interop::InteropError;
using gpt::interop::ModelBundle;

namespace {

/// The params padded the way the importer documents it (mean rows).
std::map<std::string, Tensor> padded(std::map<std::string, Tensor> p,
                                     std::int64_t V, std::int64_t D) {
  for (const char *n : {"wte.weight", "lm_head.weight"}) {
    auto it = p.find(n);
    if (it == p.end())
      continue;
    std::int64_t old = it->second.shape[0];
    std::vector<float> v(it->second.f32(), it->second.f32() + old * D);
    std::vector<double> mean(D, 0);
    for (std::int64_t r = 0; r < old; ++r)
      for (std::int64_t k = 0; k < D; ++k)
        mean[k] += v[r * D + k];
    for (std::int64_t r = old; r < V; ++r)
      for (std::int64_t k = 0; k < D; ++k)
        v.push_back(static_cast<float>(mean[k] / old));
    it->second = Tensor::fromF32({V, D}, v);
  }
  return p;
}

void expectSameTensor(const Tensor &a, const Tensor &b, const std::string &n) {
  EXPECT_EQ(a.shape, b.shape) << n;
  EXPECT_EQ(a.data, b.data) << n;
}

} // namespace

TEST(HfImport, PrefixedTiedCheckpoint) {
  ModelConfig c = tinyConfig(true);
  auto params = randomParams(c, 1);
  fs::path dir = writeHfCheckpoint("hf_tied", c, params);
  ModelBundle m = importHfGpt2(dir);
  EXPECT_EQ(m.config.vocab_size, 264); // 262 + <|im_start|>, <|im_end|>
  EXPECT_TRUE(m.config.tie_embeddings);
  EXPECT_EQ(m.config.d_ff, 64);
  EXPECT_EQ(m.tokenizer->vocabSize(), 264u);
  EXPECT_EQ(*m.tokenizer->specialId("<|endoftext|>"), 261u);
  EXPECT_EQ(*m.tokenizer->specialId("<|im_start|>"), 262u);
  EXPECT_EQ(*m.tokenizer->specialId("<|im_end|>"), 263u);
  // Same encoding as the tokenizer loaded from the GPT-2 format files.
  fs::path gpt2Files = freshDir("hf_tied_tok");
  fs::copy_file(dir / "vocab.json", gpt2Files / "encoder.json");
  fs::copy_file(dir / "merges.txt", gpt2Files / "vocab.bpe");
  auto ref = gpt::tokenizer::Tokenizer::load(gpt2Files);
  EXPECT_EQ(m.tokenizer->fingerprint(), ref.fingerprint());
  EXPECT_EQ(m.tokenizer->encode("hello world"),
            (std::vector<gpt::tokenizer::TokenId>{260, 259, 78, 81, 75, 67}));
  auto want = padded(params, 264, c.d_model);
  ASSERT_EQ(m.params.size(), want.size());
  for (const auto &[n, t] : want)
    expectSameTensor(m.params.at(n), t, n);
  EXPECT_FALSE(m.notes.empty());
}

TEST(HfImport, UnprefixedUntiedWithoutMaskBuffers) {
  ModelConfig c = tinyConfig(false);
  auto params = randomParams(c, 2);
  HfOptions o;
  o.prefix = false;
  o.maskBuffers = false;
  ModelBundle m = importHfGpt2(writeHfCheckpoint("hf_untied", c, params, o));
  EXPECT_FALSE(m.config.tie_embeddings);
  auto want = padded(params, 264, c.d_model);
  for (const auto &[n, t] : want)
    expectSameTensor(m.params.at(n), t, n);
}

TEST(HfImport, TiedCheckpointThatAlsoStoresLmHead) {
  ModelConfig c = tinyConfig(true);
  auto params = randomParams(c, 3);
  HfOptions o;
  o.lmHeadWhenTied = true;
  ModelBundle m = importHfGpt2(writeHfCheckpoint("hf_lmhead", c, params, o));
  EXPECT_TRUE(m.config.tie_embeddings);
  EXPECT_EQ(m.params.count("lm_head.weight"), 0u);
}

TEST(HfImport, HalfPrecisionWeightsAreWidened) {
  ModelConfig c = tinyConfig(true);
  auto params = randomParams(c, 4);
  for (DType d : {DType::F16, DType::BF16}) {
    HfOptions o;
    o.dtype = d;
    ModelBundle m = importHfGpt2(writeHfCheckpoint("hf_half", c, params, o));
    const Tensor &w = m.params.at("h.1.mlp.c_fc.weight");
    const Tensor &orig = params.at("h.1.mlp.c_fc.weight");
    for (std::int64_t i = 0; i < w.numel(); ++i)
      ASSERT_NEAR(w.f32()[i], orig.f32()[i],
                  std::abs(orig.f32()[i]) * (d == DType::F16 ? 1e-3 : 1e-2))
          << i;
  }
}

TEST(HfImport, ShardedCheckpoint) {
  ModelConfig c = tinyConfig(true);
  auto params = randomParams(c, 5);
  fs::path dir = writeHfCheckpoint("hf_sharded", c, params);
  auto all = gpt::io::readSafetensors(dir / "model.safetensors");
  fs::remove(dir / "model.safetensors");
  gpt::io::SafetensorsFile a, b;
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  int i = 0;
  for (auto &[n, t] : all.tensors) {
    auto &shard = (i++ % 2) ? a : b;
    shard.tensors[n] = t;
    index["weight_map"][n] = (&shard == &a)
                                 ? "model-00001-of-00002.safetensors"
                                 : "model-00002-of-00002.safetensors";
  }
  gpt::io::writeSafetensors(dir / "model-00001-of-00002.safetensors", a);
  gpt::io::writeSafetensors(dir / "model-00002-of-00002.safetensors", b);
  writeText(dir / "model.safetensors.index.json", index.dump());
  ModelBundle m = importHfGpt2(dir);
  auto want = padded(params, 264, c.d_model);
  for (const auto &[n, t] : want)
    expectSameTensor(m.params.at(n), t, n);

  index["weight_map"]["transformer.wte.weight"] = "../evil.safetensors";
  writeText(dir / "model.safetensors.index.json", index.dump());
  try {
    importHfGpt2(dir);
    FAIL() << "path traversal accepted";
  } catch (const InteropError &e) {
    EXPECT_NE(std::string(e.what()).find("not a plain file name"),
              std::string::npos)
        << e.what();
  }
}

namespace {
std::string importError(const fs::path &dir) {
  try {
    importHfGpt2(dir);
  } catch (const std::exception &e) {
    return e.what();
  }
  return "";
}
} // namespace

TEST(HfImport, ErrorsNameTheTensorOrKey) {
  ModelConfig c = tinyConfig(true);
  auto params = randomParams(c, 6);
  {
    auto p = params;
    p.erase("h.1.ln_2.bias");
    std::string e = importError(writeHfCheckpoint("hf_missing", c, p));
    EXPECT_NE(e.find("missing tensor 'h.1.ln_2.bias'"), std::string::npos) << e;
  }
  {
    auto p = params;
    p["h.0.attn.c_attn.weight"] =
        Tensor::fromF32({48, 16}, std::vector<float>(768));
    std::string e = importError(writeHfCheckpoint("hf_shape", c, p));
    EXPECT_NE(e.find("h.0.attn.c_attn.weight"), std::string::npos) << e;
    EXPECT_NE(e.find("[48, 16]"), std::string::npos) << e;
  }
  {
    auto p = params;
    p["h.0.attn.rotary.weight"] = Tensor::fromF32({1}, {0.f});
    std::string e = importError(writeHfCheckpoint("hf_extra", c, p));
    EXPECT_NE(e.find("unexpected tensor 'transformer.h.0.attn.rotary.weight'"),
              std::string::npos)
        << e;
  }
  {
    fs::path dir = writeHfCheckpoint("hf_act", c, params);
    auto cfg = nlohmann::json::parse(readBytes(dir / "config.json"));
    cfg["activation_function"] = "relu";
    writeText(dir / "config.json", cfg.dump());
    std::string e = importError(dir);
    EXPECT_NE(e.find("activation_function 'relu'"), std::string::npos) << e;
  }
  {
    fs::path dir = writeHfCheckpoint("hf_cfg", c, params);
    auto cfg = nlohmann::json::parse(readBytes(dir / "config.json"));
    cfg.erase("n_head");
    writeText(dir / "config.json", cfg.dump());
    std::string e = importError(dir);
    EXPECT_NE(e.find("missing key 'n_head'"), std::string::npos) << e;
  }
  {
    fs::path dir = writeHfCheckpoint("hf_novocab", c, params);
    fs::remove(dir / "vocab.json");
    std::string e = importError(dir);
    EXPECT_NE(e.find("vocab.json"), std::string::npos) << e;
  }
  {
    fs::path dir = writeHfCheckpoint("hf_truncated", c, params);
    std::string b = readBytes(dir / "model.safetensors");
    writeText(dir / "model.safetensors", b.substr(0, b.size() - 5));
    std::string e = importError(dir);
    EXPECT_NE(e.find("model.safetensors"), std::string::npos) << e;
  }
  {
    auto p = params;
    fs::path dir = writeHfCheckpoint("hf_both", c, p);
    auto st = gpt::io::readSafetensors(dir / "model.safetensors");
    st.tensors["wpe.weight"] = st.tensors.at("transformer.wpe.weight");
    gpt::io::writeSafetensors(dir / "model.safetensors", st);
    std::string e = importError(dir);
    EXPECT_NE(e.find("'wpe.weight' appears both"), std::string::npos) << e;
  }
}

TEST(HfImport, RunDirectoryLogitsMatchTheReference) {
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied" : "untied");
    ModelConfig c = tinyConfig(tied);
    auto params = randomParams(c, tied ? 10 : 11);
    ModelBundle m =
        importHfGpt2(writeHfCheckpoint(tied ? "hf_l_t" : "hf_l_u", c, params));
    fs::path run = freshDir(tied ? "run_t" : "run_u");
    gpt::interop::writeRunModel(run, m, "test", false);
    EXPECT_THROW(gpt::interop::writeRunModel(run, m, "test", false),
                 InteropError); // refuses to overwrite
    if (!kHaveGptc)
      GTEST_SKIP() << "built without the compiler (GPT_BUILD_COMPILER=OFF)";
    std::string log;
    ASSERT_TRUE(compileRunArtifact(run, log)) << "gptc failed: " << log;
    std::vector<std::int32_t> toks = {260, 258, 111, 3, 77, 261, 262, 263,
                                      5,   200, 1,   0, 9,  12,  13,  14};
    ModelConfig pc = c;
    pc.vocab_size = 264;
    auto want = referenceLogits(pc, padded(params, 264, c.d_model), toks);
    auto got = executorLogits(run, toks);
    ASSERT_EQ(got.size(), want.size());
    double maxErr = 0, maxAbs = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      maxErr = std::max(maxErr, std::abs(double(got[i]) - want[i]));
      maxAbs = std::max(maxAbs, std::abs(double(want[i])));
    }
    EXPECT_LT(maxErr, 2e-3 * std::max(1.0, maxAbs)) << "max |logit| " << maxAbs;
    // The run directory reloads to the same bundle.
    auto back = gpt::interop::readRunModel(run);
    EXPECT_EQ(gpt::modelConfigToJson(back.config),
              gpt::modelConfigToJson(m.config));
    EXPECT_EQ(back.tokenizer->fingerprint(), m.tokenizer->fingerprint());
  }
}

// `gpt import random`: GPT-2's init (train/Init.h) for a shape with a GPT-2
// tokenizer, the vocabulary grown for the chat specials as on import, the
// same seed giving the same weights and a different one different weights.
TEST(RandomModel, InitialisedShapePaddedAndSeeded) {
  ModelConfig c = tinyConfig(true);
  fs::path dir = writeHfCheckpoint("random_tok", c, randomParams(c, 1));
  ModelBundle a =
      gpt::interop::randomGpt2(c, dir / "vocab.json", dir / "merges.txt", 7);
  EXPECT_EQ(a.config.vocab_size, 264); // 262 + <|im_start|>, <|im_end|>
  EXPECT_EQ(a.tokenizer->vocabSize(), 264u);
  EXPECT_EQ(a.params.at("wte.weight").shape,
            (std::vector<std::int64_t>{264, c.d_model}));
  auto init = gpt::train::initParameters(c, 7);
  ASSERT_EQ(a.params.size(), init.size());
  expectSameTensor(a.params.at("h.0.attn.c_attn.weight"),
                   init.at("h.0.attn.c_attn.weight"), "c_attn");
  ModelBundle b =
      gpt::interop::randomGpt2(c, dir / "vocab.json", dir / "merges.txt", 7);
  EXPECT_EQ(a.params.at("wte.weight").data, b.params.at("wte.weight").data);
  ModelBundle other =
      gpt::interop::randomGpt2(c, dir / "vocab.json", dir / "merges.txt", 8);
  EXPECT_NE(a.params.at("wte.weight").data, other.params.at("wte.weight").data);

  ModelConfig small = c;
  small.vocab_size = 100; // fewer rows than vocab.json has tokens
  EXPECT_THROW(gpt::interop::randomGpt2(small, dir / "vocab.json",
                                        dir / "merges.txt", 7),
               InteropError);
}
