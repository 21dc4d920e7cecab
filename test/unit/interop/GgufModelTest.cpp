//===- GgufModelTest.cpp --------------------------------------------------===//
//
// `gpt export gguf` / `gpt import gguf`: llama.cpp's gpt2 names, keys,
// types and layouts; F32 round trips bit for bit (weights, config,
// tokenizer, logits); F16 round trips to the rounded weights; GGUFs as
// llama.cpp's converter writes them (50257-style vocab, output.weight copy).
#include "TestModels.h"

#include "runtime/interop/Half.h"

using namespace itest;
using namespace gpt::interop;

namespace {

ModelBundle tinyBundle(bool tied, unsigned seed) {
  ModelConfig c = tinyConfig(tied);
  return importHfGpt2(writeHfCheckpoint("gg_src_" + std::to_string(seed), c,
                                        randomParams(c, seed)));
}

const GgufValue &key(const GgufFile &f, const std::string &k) {
  const GgufValue *v = f.find(k);
  if (!v)
    throw std::runtime_error("missing key " + k);
  return *v;
}

} // namespace

TEST(GgufExport, LlamaCppNamesKeysAndLayouts) {
  ModelBundle m = tinyBundle(false, 20);
  GgufFile f =
      decodeGguf(encodeGguf(gpt2ToGguf(m, GgufDType::F32, "tiny")), "mem");
  EXPECT_EQ(key(f, "general.architecture").s, "gpt2");
  EXPECT_EQ(key(f, "general.name").s, "tiny");
  for (auto [k, v] : std::vector<std::pair<std::string, std::int64_t>>{
           {"gpt2.context_length", 16},
           {"gpt2.embedding_length", 16},
           {"gpt2.feed_forward_length", 64},
           {"gpt2.block_count", 2},
           {"gpt2.attention.head_count", 2},
           {"general.file_type", 0},
           {"tokenizer.ggml.bos_token_id", 261},
           {"tokenizer.ggml.eos_token_id", 261},
           {"tokenizer.ggml.eot_token_id", 263}}) {
    EXPECT_EQ(key(f, k).type, GgufType::UInt32) << k; // llama.cpp is strict
    EXPECT_EQ(key(f, k).i, v) << k;
  }
  EXPECT_EQ(key(f, "gpt2.attention.layer_norm_epsilon").type,
            GgufType::Float32);
  EXPECT_FLOAT_EQ(float(key(f, "gpt2.attention.layer_norm_epsilon").f), 1e-5f);
  EXPECT_EQ(key(f, "tokenizer.ggml.model").s, "gpt2");
  EXPECT_EQ(key(f, "tokenizer.ggml.pre").s, "gpt-2");
  EXPECT_EQ(key(f, "tokenizer.ggml.add_bos_token").type, GgufType::Bool);
  const GgufValue &toks = key(f, "tokenizer.ggml.tokens");
  ASSERT_EQ(toks.strings.size(), 264u);
  EXPECT_EQ(toks.strings[0], "!");
  EXPECT_EQ(toks.strings[188], "\xc4\x80");  // byte 0 as GPT-2 writes it
  EXPECT_EQ(toks.strings[259], "\xc4\xa0w"); // " w" -> "Ġw"
  EXPECT_EQ(toks.strings[261], "<|endoftext|>");
  EXPECT_EQ(toks.strings[263], "<|im_end|>");
  const GgufValue &types = key(f, "tokenizer.ggml.token_type");
  EXPECT_EQ(types.elemType, GgufType::Int32);
  EXPECT_EQ(types.ints[0], 1);
  EXPECT_EQ(types.ints[261], 3);
  EXPECT_EQ(types.ints[263], 3);
  EXPECT_EQ(key(f, "tokenizer.ggml.merges").strings,
            (std::vector<std::string>{"h e", "l l", "he ll", "\xc4\xa0 w",
                                      "hell o"}));
  EXPECT_NE(key(f, "tokenizer.chat_template").s.find("<|im_start|>"),
            std::string::npos);

  // Tensor names, ggml ne and the transposed linear weights.
  std::vector<std::string> names;
  for (const auto &t : f.tensors)
    names.push_back(t.name);
  std::vector<std::string> want = {"token_embd.weight", "position_embd.weight"};
  for (int l = 0; l < 2; ++l)
    for (const char *p : {"attn_norm", "attn_qkv", "attn_output", "ffn_norm",
                          "ffn_up", "ffn_down"})
      for (const char *wb : {".weight", ".bias"})
        want.push_back("blk." + std::to_string(l) + "." + p + wb);
  want.insert(want.end(),
              {"output_norm.weight", "output_norm.bias", "output.weight"});
  EXPECT_EQ(names, want);
  auto ne = [&](const std::string &n) { return f.findTensor(n)->ne; };
  using V = std::vector<std::int64_t>;
  EXPECT_EQ(ne("token_embd.weight"), (V{16, 264}));
  EXPECT_EQ(ne("position_embd.weight"), (V{16, 16}));
  EXPECT_EQ(ne("blk.0.attn_qkv.weight"), (V{16, 48}));
  EXPECT_EQ(ne("blk.0.attn_qkv.bias"), (V{48}));
  EXPECT_EQ(ne("blk.0.attn_output.weight"), (V{16, 16}));
  EXPECT_EQ(ne("blk.0.ffn_up.weight"), (V{16, 64}));
  EXPECT_EQ(ne("blk.0.ffn_down.weight"), (V{64, 16}));
  EXPECT_EQ(ne("output.weight"), (V{16, 264}));
  // ffn_up (nn.Linear [out=64, in=16]) element (o, i) = c_fc [in, out] (i, o).
  const float *up = reinterpret_cast<const float *>(
      f.findTensor("blk.1.ffn_up.weight")->data.data());
  const float *fc = m.params.at("h.1.mlp.c_fc.weight").f32();
  for (int o = 0; o < 64; ++o)
    for (int i = 0; i < 16; ++i)
      ASSERT_EQ(up[o * 16 + i], fc[i * 64 + o]);
  const float *out = reinterpret_cast<const float *>(
      f.findTensor("output.weight")->data.data());
  EXPECT_EQ(std::memcmp(out, m.params.at("lm_head.weight").f32(), 264 * 16 * 4),
            0);
}

TEST(GgufExport, F16KeepsNormsAndBiasesInF32) {
  ModelBundle m = tinyBundle(true, 21);
  GgufFile f = gpt2ToGguf(m, GgufDType::F16, "tiny");
  EXPECT_EQ(key(f, "general.file_type").i, 1);
  for (const auto &t : f.tensors)
    EXPECT_EQ(t.type, t.ne.size() == 2 ? GgmlType::F16 : GgmlType::F32)
        << t.name;
  // Tied: output.weight is a copy of token_embd.weight.
  EXPECT_EQ(f.findTensor("output.weight")->data,
            f.findTensor("token_embd.weight")->data);
}

TEST(GgufExport, RefusesARopeModel) {
  ModelBundle m = tinyBundle(true, 21);
  m.config.rope = true;
  m.params.erase("wpe.weight");
  try {
    gpt2ToGguf(m, GgufDType::F32, "tiny");
    FAIL() << "exported a rope model";
  } catch (const InteropError &e) {
    EXPECT_NE(std::string(e.what()).find("rotary positions"), std::string::npos)
        << e.what();
  }
}

TEST(GgufRoundTrip, F32IsBitExact) {
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied" : "untied");
    ModelBundle m = tinyBundle(tied, tied ? 22 : 23);
    std::string bytes = encodeGguf(gpt2ToGguf(m, GgufDType::F32, "tiny"));
    ModelBundle back = gpt2FromGguf(decodeGguf(bytes, "mem"), "mem");
    EXPECT_EQ(gpt::modelConfigToJson(back.config),
              gpt::modelConfigToJson(m.config));
    EXPECT_EQ(back.tokenizer->fingerprint(), m.tokenizer->fingerprint());
    ASSERT_EQ(back.params.size(), m.params.size());
    for (const auto &[n, t] : m.params) {
      EXPECT_EQ(back.params.at(n).shape, t.shape) << n;
      EXPECT_EQ(back.params.at(n).data, t.data) << n;
    }
    EXPECT_EQ(encodeGguf(gpt2ToGguf(back, GgufDType::F32, "tiny")), bytes);
  }
}

TEST(GgufRoundTrip, F16GivesTheRoundedWeights) {
  ModelBundle m = tinyBundle(true, 24);
  std::string bytes = encodeGguf(gpt2ToGguf(m, GgufDType::F16, "tiny"));
  ModelBundle back = gpt2FromGguf(decodeGguf(bytes, "mem"), "mem");
  EXPECT_TRUE(back.config.tie_embeddings);
  for (const auto &[n, t] : m.params)
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      float want = t.shape.size() == 2 ? halfToFloat(floatToHalf(t.f32()[i]))
                                       : t.f32()[i];
      ASSERT_EQ(back.params.at(n).f32()[i], want) << n << " " << i;
    }
  EXPECT_EQ(encodeGguf(gpt2ToGguf(back, GgufDType::F16, "tiny")), bytes);
}

TEST(GgufImport, ConverterStyleGpt2File) {
  // As convert_hf_to_gguf.py writes GPT-2: the HF vocabulary (<|endoftext|>
  // last, a control token), output.weight = token_embd.weight, no ChatML.
  ModelConfig c = tinyConfig(true);
  auto params = randomParams(c, 25);
  GgufFile f;
  f.set("general.architecture", GgufValue::str("gpt2"));
  f.set("gpt2.block_count", GgufValue::u32(2));
  f.set("gpt2.context_length", GgufValue::u32(16));
  f.set("gpt2.embedding_length", GgufValue::u32(16));
  f.set("gpt2.feed_forward_length", GgufValue::u32(64));
  f.set("gpt2.attention.head_count", GgufValue::u32(2));
  f.set("gpt2.attention.layer_norm_epsilon", GgufValue::f32(1e-5f));
  f.set("tokenizer.ggml.model", GgufValue::str("gpt2"));
  f.set("tokenizer.ggml.pre", GgufValue::str("gpt-2"));
  std::vector<std::string> toks;
  std::vector<std::int32_t> types;
  for (const auto &t : tinyTokens()) {
    bool eot = t == "<|endoftext|>";
    toks.push_back(eot ? t : gpt::tokenizer::byte_level::encode(t));
    types.push_back(eot ? 3 : 1);
  }
  f.set("tokenizer.ggml.tokens", GgufValue::stringArray(toks));
  f.set("tokenizer.ggml.token_type", GgufValue::int32Array(types));
  f.set(
      "tokenizer.ggml.merges",
      GgufValue::stringArray({"h e", "l l", "he ll", "\xc4\xa0 w", "hell o"}));
  // Reuse our exporter's tensors for this config (vocab 262).
  ModelBundle src;
  src.config = c;
  src.params = params;
  std::vector<std::string> ordinary = tinyTokens();
  ordinary.pop_back();
  src.tokenizer = std::make_unique<gpt::tokenizer::Tokenizer>(
      ordinary, tinyMerges(), std::vector<std::string>{"<|endoftext|>"});
  f.tensors = gpt2ToGguf(src, GgufDType::F32, "x").tensors;
  ModelBundle m = gpt2FromGguf(decodeGguf(encodeGguf(f), "mem"), "mem");
  EXPECT_TRUE(m.config.tie_embeddings);
  EXPECT_EQ(m.config.vocab_size, 264);
  EXPECT_EQ(*m.tokenizer->specialId("<|endoftext|>"), 261u);
  EXPECT_EQ(*m.tokenizer->specialId("<|im_end|>"), 263u);
  const Tensor &wte = m.params.at("wte.weight");
  EXPECT_EQ(std::memcmp(wte.f32(), params.at("wte.weight").f32(), 262 * 16 * 4),
            0);
}

TEST(GgufRoundTrip, RunDirectoryLogitsAreIdentical) {
  ModelBundle m = tinyBundle(true, 26);
  fs::path run = freshDir("gg_run");
  writeRunModel(run, m, "test", false);
  fs::path gguf = tempRoot() / "tiny.gguf";
  writeGguf(gguf, gpt2ToGguf(readRunModel(run), GgufDType::F32, "tiny"));
  fs::path run2 = freshDir("gg_run2");
  writeRunModel(run2, gpt2FromGguf(readGguf(gguf), gguf.string()), "test",
                false);
  EXPECT_EQ(readBytes(run / "model.safetensors"),
            readBytes(run2 / "model.safetensors"));
  EXPECT_EQ(readBytes(run / "config.json"), readBytes(run2 / "config.json"));
  if (!kHaveGptc)
    GTEST_SKIP() << "built without the compiler (GPT_BUILD_COMPILER=OFF)";
  std::string log;
  ASSERT_TRUE(compileRunArtifact(run, log)) << "gptc failed: " << log;
  ASSERT_TRUE(compileRunArtifact(run2, log)) << "gptc failed: " << log;
  std::vector<std::int32_t> toks = {1, 2, 3, 260, 261, 262, 263, 100};
  EXPECT_EQ(executorLogits(run, toks), executorLogits(run2, toks));
}
