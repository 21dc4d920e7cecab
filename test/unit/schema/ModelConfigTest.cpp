//===- ModelConfigTest.cpp ------------------------------------------------===//
//
// Config parsing: the accepted keys, defaults, and one error per rule, each
// naming the field at fault.
#include "schema/ModelConfig.h"
#include "schema/Parameters.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace {
using gpt::ConfigError;
using gpt::ModelConfig;
using gpt::parseModelConfig;

const char *kMinimal = R"({"vocab_size": 100, "context_length": 32,
  "n_layer": 2, "n_head": 4, "d_model": 16})";

TEST(ModelConfig, ParsesRequiredKeysAndDefaults) {
  ModelConfig c = parseModelConfig(kMinimal, "cfg.json");
  EXPECT_EQ(c.vocab_size, 100);
  EXPECT_EQ(c.context_length, 32);
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.n_head, 4);
  EXPECT_EQ(c.d_model, 16);
  EXPECT_EQ(c.d_ff, 64); // 4 * d_model
  EXPECT_DOUBLE_EQ(c.layernorm_eps, 1e-5);
  EXPECT_TRUE(c.tie_embeddings);
  EXPECT_FALSE(c.rope); // GPT-2's learned position table
  EXPECT_EQ(c.headDim(), 4);
}

TEST(ModelConfig, RopeDropsThePositionTableAndRoundTrips) {
  ModelConfig c = parseModelConfig(
      R"({"vocab_size": 100, "context_length": 32, "n_layer": 2, "n_head": 4,
          "d_model": 16, "position_encoding": "rope", "rope_theta": 500})",
      "cfg.json");
  EXPECT_TRUE(c.rope);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500.0);
  for (const gpt::ParamSpec &spec : gpt::parameterSpecs(c))
    EXPECT_NE(spec.name, "wpe.weight");
  ModelConfig learned = parseModelConfig(kMinimal, "cfg.json");
  EXPECT_EQ(gpt::parameterCount(learned) - gpt::parameterCount(c), 32 * 16);
  ModelConfig back = parseModelConfig(gpt::modelConfigToJson(c), "again");
  EXPECT_TRUE(back.rope);
  EXPECT_DOUBLE_EQ(back.rope_theta, 500.0);
  EXPECT_FALSE(parseModelConfig(gpt::modelConfigToJson(learned), "again").rope);
}

TEST(ModelConfig, ParsesOptionalKeys) {
  ModelConfig c = parseModelConfig(
      R"({"vocab_size": 100, "context_length": 32, "n_layer": 2, "n_head": 4,
          "d_model": 16, "d_ff": 40, "layernorm_eps": 1e-6,
          "tie_embeddings": false})",
      "cfg.json");
  EXPECT_EQ(c.d_ff, 40);
  EXPECT_DOUBLE_EQ(c.layernorm_eps, 1e-6);
  EXPECT_FALSE(c.tie_embeddings);
}

TEST(ModelConfig, JsonRoundTrip) {
  ModelConfig c = parseModelConfig(kMinimal, "cfg.json");
  c.tie_embeddings = false;
  c.layernorm_eps = 3e-5;
  ModelConfig back = parseModelConfig(gpt::modelConfigToJson(c), "again");
  EXPECT_EQ(back.d_ff, c.d_ff);
  EXPECT_EQ(back.tie_embeddings, c.tie_embeddings);
  EXPECT_DOUBLE_EQ(back.layernorm_eps, c.layernorm_eps);
}

struct BadConfig {
  const char *json;
  const char *message;
};

class ModelConfigErrors : public testing::TestWithParam<BadConfig> {};

TEST_P(ModelConfigErrors, RejectsWithMessageNamingTheField) {
  try {
    parseModelConfig(GetParam().json, "bad.json");
    FAIL() << "accepted " << GetParam().json;
  } catch (const ConfigError &e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().message), std::string::npos)
        << "message was: " << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("bad.json: ", 0), 0u) << e.what();
  }
}

#define BASE "\"vocab_size\": 100, \"context_length\": 32, \"n_layer\": 2, "
INSTANTIATE_TEST_SUITE_P(
    Rules, ModelConfigErrors,
    testing::Values(
        BadConfig{"{" BASE "\"n_head\": 3, \"d_model\": 16}",
                  "field 'n_head' (3) must divide 'd_model' (16)"},
        BadConfig{"{" BASE "\"n_head\": 0, \"d_model\": 16}",
                  "field 'n_head' must be > 0, got 0"},
        BadConfig{"{" BASE "\"n_head\": 4, \"d_model\": -16}",
                  "field 'd_model' must be > 0, got -16"},
        BadConfig{"{" BASE "\"n_head\": 4, \"d_model\": 16, \"d_ff\": 0}",
                  "field 'd_ff' must be > 0"},
        BadConfig{"{" BASE "\"n_head\": 4, \"d_model\": 16.5}",
                  "field 'd_model' must be an integer, got number 16.5"},
        BadConfig{"{" BASE "\"n_head\": 4, \"d_model\": true}",
                  "field 'd_model' must be an integer, got boolean"},
        BadConfig{"{" BASE "\"n_head\": 4, \"d_model\": 99999999999}",
                  "field 'd_model' is too large"},
        BadConfig{"{" BASE "\"n_head\": 4, \"d_model\": 16, \"nhead\": 4}",
                  "unknown field 'nhead' (did you mean 'n_head'?)"},
        BadConfig{"{" BASE "\"n_head\": 4, \"d_model\": 16, \"dropout\": 0.1}",
                  "unknown field 'dropout'"},
        BadConfig{"{" BASE "\"n_head\": 4}",
                  "missing required field 'd_model'"},
        BadConfig{"{" BASE "\"n_head\": 4, \"d_model\": 16, "
                  "\"layernorm_eps\": 0}",
                  "field 'layernorm_eps' must be a finite number > 0"},
        BadConfig{"{" BASE "\"n_head\": 4, \"d_model\": 16, "
                  "\"layernorm_eps\": \"1e-5\"}",
                  "field 'layernorm_eps' must be a number, got string"},
        BadConfig{"{" BASE "\"n_head\": 4, \"d_model\": 16, "
                  "\"tie_embeddings\": 1}",
                  "field 'tie_embeddings' must be true or false"},
        BadConfig{"{" BASE "\"n_head\": 4, \"d_model\": 16, "
                  "\"position_encoding\": \"alibi\"}",
                  "field 'position_encoding' must be \"learned\" or "
                  "\"rope\", got \"alibi\""},
        BadConfig{"{" BASE "\"n_head\": 4, \"d_model\": 16, "
                  "\"rope_theta\": 500}",
                  "field 'rope_theta' needs \"position_encoding\": \"rope\""},
        BadConfig{"{" BASE "\"n_head\": 4, \"d_model\": 16, "
                  "\"position_encoding\": \"rope\", \"rope_theta\": 1}",
                  "field 'rope_theta' must be a finite number > 1"},
        BadConfig{"{" BASE "\"n_head\": 4, \"d_model\": 12, "
                  "\"position_encoding\": \"rope\"}",
                  "position_encoding 'rope' needs an even head size, got "
                  "d_model / n_head = 3"},
        BadConfig{"[1, 2]", "the config must be a JSON object, got array"},
        BadConfig{"{\"vocab_size\": 100,\n \"n_layer\": }",
                  "malformed JSON at 2:13"},
        BadConfig{"", "malformed JSON at 1:1"}));
#undef BASE

TEST(ModelConfig, LoadReportsMissingFile) {
  EXPECT_THROW(gpt::loadModelConfig("/nonexistent/cfg.json"), ConfigError);
  ModelConfig c;
  std::string error;
  EXPECT_FALSE(gpt::tryLoadModelConfig("/nonexistent/cfg.json", c, error));
  EXPECT_NE(error.find("/nonexistent/cfg.json: cannot open"), std::string::npos)
      << error;
}

TEST(ModelConfig, LoadsFile) {
  std::string path = testing::TempDir() + "/model_config_test.json";
  std::ofstream(path) << kMinimal;
  ModelConfig c = gpt::loadModelConfig(path);
  EXPECT_EQ(c.n_layer, 2);
  std::remove(path.c_str());
}

TEST(ModelConfig, Presets) {
  ModelConfig c = gpt::presetModelConfig("gpt2-124m");
  EXPECT_EQ(c.vocab_size, 50257);
  EXPECT_EQ(c.n_layer, 12);
  EXPECT_EQ(c.d_ff, 3072);
  EXPECT_THROW(gpt::presetModelConfig("gpt5"), ConfigError);
}

TEST(Parameters, Gpt2SmallHas124MParameters) {
  ModelConfig c = gpt::presetModelConfig("gpt2-124m");
  // The figure Hugging Face reports for GPT-2 small (tied embeddings).
  EXPECT_EQ(gpt::parameterCount(c), 124439808);
  EXPECT_EQ(gpt::parameterSpecs(c).size(), 2u + 12u * 12u + 2u);
}

TEST(Parameters, UntiedHeadAddsLmHead) {
  ModelConfig c = parseModelConfig(kMinimal, "cfg.json");
  c.tie_embeddings = false;
  auto specs = gpt::parameterSpecs(c);
  ASSERT_EQ(specs.back().name, "lm_head.weight");
  EXPECT_EQ(specs.back().shape, (std::vector<int64_t>{100, 16}));
  EXPECT_EQ(specs[2].name, "h.0.ln_1.weight");
  EXPECT_EQ(specs[4].shape, (std::vector<int64_t>{16, 48})); // c_attn [in,out]
}
} // namespace
