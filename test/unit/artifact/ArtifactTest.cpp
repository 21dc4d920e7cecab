//===- ArtifactTest.cpp ---------------------------------------------------===//
//
// Artifact container, schema and cross-reference validation.
#include "runtime/artifact/Artifact.h"

#include "../executor/Builder.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <random>

using namespace gpt;
using gpt::test::FunctionBuilder;
using json = nlohmann::json;

namespace {

/// tokens -> embedding + position embedding -> add -> layernorm -> linear.
FunctionBuilder forwardBuilder() {
  FunctionBuilder b;
  b.name = "forward";
  int tokens = b.input("tokens", {-1, -2}, "i32");          // 0
  int wte = b.input("wte.weight", {16, 8}, "f32", "param"); // 1
  int wpe = b.input("wpe.weight", {8, 8}, "f32", "param");  // 2
  int g = b.input("ln.weight", {8}, "f32", "param");        // 3
  int be = b.input("ln.bias", {8}, "f32", "param");         // 4
  int tok = b.temp({-1, -2, 8});                            // 5
  int pos = b.temp({-1, -2, 8});                            // 6
  int h = b.temp({-1, -2, 8});                              // 7
  int ln = b.temp({-1, -2, 8});                             // 8
  int logits = b.temp({-1, -2, 16});                        // 9
  b.kernel("embedding", {wte, tokens}, {tok});
  b.kernel("position_embedding", {wpe, tokens}, {pos});
  b.kernel("elementwise", {tok, pos}, {h},
           {{"program",
             {{"instructions", {{{"op", "add"}, {"args", {0, 1}}}}},
              {"outputs", {2}}}}});
  b.kernel("layernorm", {h, g, be}, {ln}, {{"epsilon", 1e-5}});
  b.kernel("linear", {ln, wte, -1}, {logits}, {{"transpose_weight", true}});
  b.output("logits", logits);
  return b;
}

json validManifest() { return test::manifestOf({forwardBuilder().function()}); }

std::string errorOf(const std::function<void()> &f) {
  try {
    f();
  } catch (const ArtifactError &e) {
    return e.what();
  }
  return "<no error>";
}

std::string parseError(const json &manifest) {
  return errorOf(
      [&] { parseArtifact(serializeArtifact(manifest), "model.gptart"); });
}

std::string withHeader(const std::string &payload, uint32_t version = 1) {
  std::string out(kArtifactMagic, 8);
  auto put32 = [&](uint32_t x) {
    for (int i = 0; i < 4; ++i)
      out.push_back(char((x >> (8 * i)) & 0xff));
  };
  put32(version);
  put32(crc32(payload.data(), payload.size()));
  put32(uint32_t(payload.size()));
  put32(0);
  return out + payload;
}

} // namespace

TEST(Crc32, KnownValues) {
  EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u);
  EXPECT_EQ(crc32("", 0), 0u);
  EXPECT_EQ(crc32("The quick brown fox jumps over the lazy dog", 43),
            0x414FA339u);
  // Incremental == one shot.
  EXPECT_EQ(crc32("6789", 4, crc32("12345", 5)), 0xCBF43926u);
}

TEST(Artifact, RoundTrip) {
  std::string bytes = serializeArtifact(validManifest());
  ASSERT_GE(bytes.size(), 24u);
  EXPECT_EQ(std::string(bytes.data(), 8), std::string("GPTART\0\1", 8));
  Artifact a = parseArtifact(bytes, "model.gptart");
  EXPECT_EQ(a.format, 1);
  EXPECT_EQ(a.compiler, "test");
  EXPECT_EQ(a.target, "cpu");
  EXPECT_EQ(a.config.vocab_size, 16);
  ASSERT_EQ(a.functions.size(), 1u);
  const Function &f = a.functions[0];
  EXPECT_EQ(f.name, "forward");
  EXPECT_EQ(f.inputs.size(), 5u);
  EXPECT_EQ(f.inputs[1].role, "param");
  EXPECT_EQ(f.values.size(), 10u);
  EXPECT_EQ(f.values[0].dtype, DType::I32);
  EXPECT_EQ(f.values[5].storage.kind, StorageKind::TokenArena);
  EXPECT_EQ(f.values[6].storage.offset, 32);
  EXPECT_EQ(f.tokenBytes, 32 * 4 + 64);
  ASSERT_EQ(f.kernels.size(), 5u);
  EXPECT_EQ(f.kernels[2].program.instructions.size(), 1u);
  EXPECT_EQ(f.kernels[2].program.instructions[0].op, EwOp::Add);
  EXPECT_FLOAT_EQ(attrFloat(f.kernels[3], "epsilon"), 1e-5f);
  EXPECT_TRUE(attrBool(f.kernels[4], "transpose_weight"));
  EXPECT_EQ(a.findFunction("forward"), &a.functions[0]);
  EXPECT_EQ(a.findFunction("nope"), nullptr);
  EXPECT_EQ(f.findInput("ln.bias"), 4);
}

TEST(Artifact, ReadFile) {
  std::string path = ::testing::TempDir() + "/artifact_test.gptart";
  writeArtifactFile(path, validManifest());
  Artifact a = readArtifact(path);
  EXPECT_EQ(a.functions.size(), 1u);
  std::remove(path.c_str());
  std::string msg = errorOf([&] { readArtifact(path); });
  EXPECT_NE(msg.find(path + ": cannot open file"), std::string::npos) << msg;
}

TEST(Artifact, HeaderErrors) {
  std::string good = serializeArtifact(validManifest());
  auto err = [](const std::string &bytes) {
    return errorOf([&] { parseArtifact(bytes, "model.gptart"); });
  };
  EXPECT_EQ(err(""), "model.gptart: file is 0 bytes, shorter than the 24-byte "
                     "artifact header");
  EXPECT_NE(err(good.substr(0, 23)).find("shorter than the 24-byte"),
            std::string::npos);
  std::string badMagic = good;
  badMagic[0] = 'X';
  EXPECT_NE(err(badMagic).find("bad magic"), std::string::npos);
  std::string badMagic2 = good;
  badMagic2[7] = '\2';
  EXPECT_NE(err(badMagic2).find("bad magic"), std::string::npos);
  std::string payload = good.substr(24);
  EXPECT_NE(err(withHeader(payload, 2)).find("unsupported format version 2"),
            std::string::npos);
  EXPECT_NE(err(good.substr(0, good.size() - 1)).find("truncated"),
            std::string::npos);
  EXPECT_NE(err(good + " ").find("trailing"), std::string::npos);
  std::string flipped = good;
  flipped[40] ^= 0x01;
  EXPECT_NE(err(flipped).find("header.crc32: checksum mismatch"),
            std::string::npos);
  std::string badCrc = good;
  badCrc[12] ^= 0x80;
  EXPECT_NE(err(badCrc).find("checksum mismatch"), std::string::npos);
  // Huge declared length must not allocate.
  std::string huge = good;
  for (int i = 16; i < 24; ++i)
    huge[i] = '\xff';
  EXPECT_NE(err(huge).find("payload_length"), std::string::npos);
  // Valid CRC, invalid JSON.
  EXPECT_NE(err(withHeader("{\"format\": 1,")).find("payload: invalid JSON"),
            std::string::npos);
  EXPECT_NE(err(withHeader(std::string(100000, '['))).find("nested deeper"),
            std::string::npos);
  EXPECT_NE(err(withHeader("[1, 2]")).find("manifest: expected an object"),
            std::string::npos);
}

TEST(Artifact, ValueIdOutOfRangeMessage) {
  json m = validManifest();
  m["functions"][0]["kernels"][4]["inputs"][1] = 99;
  EXPECT_EQ(parseError(m),
            "model.gptart: functions[0].kernels[4].inputs[1]: value id 99 out "
            "of range (function has 10 values)");
}

struct SchemaCase {
  const char *name;
  std::function<void(json &)> mutate;
  const char *expected; // substring of the message
};

class SchemaViolation : public ::testing::TestWithParam<SchemaCase> {};

TEST_P(SchemaViolation, IsRejectedWithMessage) {
  json m = validManifest();
  GetParam().mutate(m);
  std::string msg = parseError(m);
  EXPECT_NE(msg.find(GetParam().expected), std::string::npos)
      << "message: " << msg;
  EXPECT_EQ(msg.rfind("model.gptart: ", 0), 0u) << msg;
}

json &fn(json &m) { return m["functions"][0]; }

/// Words of a (header-only) SPIR-V module; magic first.
std::vector<uint32_t> spirvWords(uint32_t magic = kSpirvMagic) {
  return {magic, 0x00010500, 0, 1, 0};
}
std::string spirvBase64(uint32_t magic = kSpirvMagic) {
  std::vector<uint32_t> w = spirvWords(magic);
  return base64Encode(w.data(), w.size() * 4);
}
/// The valid manifest for target "vulkan": kernels[2] is its elementwise.
void makeVulkan(json &m) {
  m["target"] = "vulkan";
  fn(m)["kernels"][2]["attrs"]["spirv"] = spirvBase64();
}

const SchemaCase kSchemaCases[] = {
    {"MissingFormat", [](json &m) { m.erase("format"); },
     "manifest: missing field 'format'"},
    {"BadFormat", [](json &m) { m["format"] = 2; }, "format: unsupported"},
    {"FormatString", [](json &m) { m["format"] = "1"; },
     "format: expected an integer, got string"},
    {"UnknownTopField", [](json &m) { m["weights"] = 1; },
     "unknown field 'weights'"},
    {"UnknownTarget", [](json &m) { m["target"] = "metal"; },
     "target: unknown target 'metal' (cpu or vulkan)"},
    {"SpirvOnCpuTarget",
     [](json &m) { fn(m)["kernels"][2]["attrs"]["spirv"] = spirvBase64(); },
     "functions[0].kernels[2].attrs.spirv: generated SPIR-V in an artifact "
     "for target 'cpu'"},
    {"VulkanMissingSpirv",
     [](json &m) {
       makeVulkan(m);
       fn(m)["kernels"][2]["attrs"].erase("spirv");
     },
     "functions[0].kernels[2].attrs: missing attribute 'spirv' of kernel "
     "'elementwise'"},
    {"VulkanSpirvBadBase64",
     [](json &m) {
       makeVulkan(m);
       fn(m)["kernels"][2]["attrs"]["spirv"] = "AwIjBw=A";
     },
     "functions[0].kernels[2].attrs.spirv: not valid base64"},
    {"VulkanSpirvBadChar",
     [](json &m) {
       makeVulkan(m);
       fn(m)["kernels"][2]["attrs"]["spirv"] = "AwIj*wAA";
     },
     "functions[0].kernels[2].attrs.spirv: not valid base64"},
    {"VulkanSpirvBadMagic",
     [](json &m) {
       makeVulkan(m);
       fn(m)["kernels"][2]["attrs"]["spirv"] = spirvBase64(0xdeadbeef);
     },
     "attrs.spirv: bad SPIR-V magic 0xdeadbeef (expected 0x7230203)"},
    {"VulkanSpirvNotWords",
     [](json &m) {
       makeVulkan(m);
       fn(m)["kernels"][2]["attrs"]["spirv"] = base64Encode("\3\2\x23\7ab", 6);
     },
     "attrs.spirv: SPIR-V is 6 bytes, not a whole number of 32-bit words"},
    {"VulkanSpirvTooShort",
     [](json &m) {
       makeVulkan(m);
       fn(m)["kernels"][2]["attrs"]["spirv"] = base64Encode("\3\2\x23\7", 4);
     },
     "attrs.spirv: SPIR-V is 4 bytes, shorter than its 20-byte header"},
    {"VulkanSpirvNotString",
     [](json &m) {
       makeVulkan(m);
       fn(m)["kernels"][2]["attrs"]["spirv"] = 7;
     },
     "attrs.spirv: expected a string"},
    {"SpirvOnOtherKernel",
     [](json &m) {
       makeVulkan(m);
       fn(m)["kernels"][3]["attrs"]["spirv"] = spirvBase64();
     },
     "functions[0].kernels[3].attrs.spirv: unknown attribute for kernel "
     "'layernorm'"},
    {"BadConfig", [](json &m) { m["config"]["n_head"] = 3; }, "config"},
    {"ConfigTypo", [](json &m) { m["config"]["d_modle"] = 3; }, "d_modle"},
    {"FunctionsNotArray", [](json &m) { m["functions"] = json::object(); },
     "functions: expected an array"},
    {"DuplicateFunction",
     [](json &m) { m["functions"].push_back(m["functions"][0]); },
     "functions[1].name: duplicate function name 'forward'"},
    {"EmptyName", [](json &m) { fn(m)["name"] = ""; },
     "functions[0].name: must not be empty"},
    {"BadRole", [](json &m) { fn(m)["inputs"][1]["role"] = "weight"; },
     "functions[0].inputs[1].role: unknown role 'weight'"},
    {"DuplicateInput",
     [](json &m) { fn(m)["inputs"][2]["name"] = "wte.weight"; },
     "functions[0].inputs[2].name: duplicate input name"},
    {"InputValueOutOfRange", [](json &m) { fn(m)["inputs"][0]["value"] = 10; },
     "functions[0].inputs[0].value: value id 10 out of range"},
    {"InputValueWrongStorage", [](json &m) { fn(m)["inputs"][0]["value"] = 5; },
     "functions[0].inputs[0].value: value 5 must have storage"},
    {"NegativeValueId", [](json &m) { fn(m)["inputs"][0]["value"] = -1; },
     "functions[0].inputs[0].value: integer -1 out of range"},
    {"BadDtype", [](json &m) { fn(m)["values"][5]["dtype"] = "f16"; },
     "functions[0].values[5].dtype: unknown dtype 'f16'"},
    {"BadDim", [](json &m) { fn(m)["values"][5]["shape"][2] = -4; },
     "functions[0].values[5].shape[2]: dim -4"},
    {"PoolDimInArena", [](json &m) { fn(m)["values"][5]["shape"][2] = -3; },
     "functions[0].values[5].storage: value of shape [B, T, N] depends on "
     "the KV pool size N (-3)"},
    {"FloatDim", [](json &m) { fn(m)["values"][5]["shape"][2] = 8.5; },
     "functions[0].values[5].shape[2]: expected an integer"},
    {"HugeDim",
     [](json &m) {
       fn(m)["values"][1]["shape"] = {1 << 30, 1 << 30};
     },
     "functions[0].values[1].shape: shape [1073741824, 1073741824] has more "
     "than 2^48 elements"},
    {"BadStorageKind",
     [](json &m) { fn(m)["values"][5]["storage"]["kind"] = "heap"; },
     "functions[0].values[5].storage.kind: unknown storage kind 'heap'"},
    {"BadArena",
     [](json &m) { fn(m)["values"][5]["storage"]["arena"] = "dynamic"; },
     "functions[0].values[5].storage.arena: unknown arena 'dynamic'"},
    {"TokenOffsetOutside",
     [](json &m) { fn(m)["values"][9]["storage"]["offset"] = 160; },
     "functions[0].values[9].storage: bytes per token [160, 224) lie outside "
     "the token arena of 192 bytes per token"},
    {"TokenOffsetMisaligned",
     [](json &m) { fn(m)["values"][5]["storage"]["offset"] = 2; },
     "not a multiple of 4"},
    {"TokenArenaTooSmall", [](json &m) { fn(m)["arena"]["token_bytes"] = 100; },
     "functions[0].values[8].storage: bytes per token [96, 128)"},
    {"SymbolicInStaticArena",
     [](json &m) {
       fn(m)["values"][5]["storage"] = {
           {"kind", "arena"}, {"arena", "static"}, {"offset", 0}};
     },
     "depends on B, T or N and cannot live in the static arena"},
    {"StaticOutside",
     [](json &m) {
       fn(m)["values"][5]["shape"] = {2, 8};
       fn(m)["values"][5]["storage"] = {
           {"kind", "arena"}, {"arena", "static"}, {"offset", 64}};
       fn(m)["arena"]["static_bytes"] = 64;
     },
     "functions[0].values[5].storage: bytes [64, 128) lie outside the static "
     "arena of 64 bytes"},
    {"StaticMisaligned",
     [](json &m) {
       fn(m)["values"][5]["shape"] = {2, 8};
       fn(m)["values"][5]["storage"] = {
           {"kind", "arena"}, {"arena", "static"}, {"offset", 32}};
       fn(m)["arena"]["static_bytes"] = 1024;
     },
     "static offset 32 is not a multiple of 64"},
    {"TokenGrowsTooFast",
     [](json &m) {
       fn(m)["values"][5]["shape"] = {-1, -2, -2};
     },
     "grows faster than B*T"},
    {"InputIndexOutOfRange",
     [](json &m) {
       fn(m)["values"].push_back(
           {{"dtype", "f32"},
            {"shape", {8}},
            {"storage", {{"kind", "input"}, {"index", 7}}}});
     },
     "functions[0].values[10].storage.index: input index 7 out of range"},
    {"AliasOutOfRange",
     [](json &m) {
       fn(m)["values"][8]["storage"] = {{"kind", "alias"}, {"of", 42}};
     },
     "functions[0].values[8].storage.of: value id 42 out of range"},
    {"AliasSelf",
     [](json &m) {
       fn(m)["values"][8]["storage"] = {{"kind", "alias"}, {"of", 8}};
     },
     "cannot alias itself"},
    {"AliasCycle",
     [](json &m) {
       fn(m)["values"][8]["storage"] = {{"kind", "alias"}, {"of", 7}};
       fn(m)["values"][7]["storage"] = {{"kind", "alias"}, {"of", 8}};
     },
     "cycle"},
    {"AliasCountMismatch",
     [](json &m) {
       fn(m)["values"][9]["storage"] = {{"kind", "alias"}, {"of", 8}};
     },
     "different element count"},
    {"AliasDtypeMismatch",
     [](json &m) {
       fn(m)["values"][1]["shape"] = {-1, -2};
       fn(m)["values"][8]["shape"] = {-1, -2};
       fn(m)["values"][8]["storage"] = {{"kind", "alias"}, {"of", 0}};
     },
     "alias of a i32 value as f32"},
    {"UnknownKernel", [](json &m) { fn(m)["kernels"][0]["kernel"] = "conv"; },
     "functions[0].kernels[0].kernel: unknown kernel 'conv'"},
    {"TooManyInputs",
     [](json &m) { fn(m)["kernels"][0]["inputs"].push_back(2); },
     "functions[0].kernels[0].inputs: kernel 'embedding' takes 2 inputs, got "
     "3"},
    {"TooFewOutputs",
     [](json &m) { fn(m)["kernels"][3]["outputs"] = json::array(); },
     "kernel 'layernorm' takes 1 outputs, got 0"},
    {"NonOptionalAbsent",
     [](json &m) { fn(m)["kernels"][3]["inputs"][1] = -1; },
     "functions[0].kernels[3].inputs[1]: operand of kernel 'layernorm' is not "
     "optional"},
    {"WrongDtype", [](json &m) { fn(m)["kernels"][0]["inputs"][1] = 5; },
     "functions[0].kernels[0].inputs[1]: value 5 is f32, kernel 'embedding' "
     "needs i32"},
    {"MissingAttr",
     [](json &m) { fn(m)["kernels"][3]["attrs"].erase("epsilon"); },
     "functions[0].kernels[3].attrs: missing attribute 'epsilon'"},
    {"UnknownAttr",
     [](json &m) { fn(m)["kernels"][4]["attrs"]["transpose_weights"] = true; },
     "functions[0].kernels[4].attrs.transpose_weights: unknown attribute"},
    {"AttrType",
     [](json &m) { fn(m)["kernels"][3]["attrs"]["epsilon"] = "small"; },
     "functions[0].kernels[3].attrs.epsilon: expected a number"},
    {"BoolAttrType",
     [](json &m) { fn(m)["kernels"][4]["attrs"]["transpose_weight"] = 1; },
     "attrs.transpose_weight: expected a boolean"},
    {"AttrsNotObject", [](json &m) { fn(m)["kernels"][3]["attrs"] = 1; },
     "functions[0].kernels[3].attrs: expected an object"},
    {"ProgramRegister",
     [](json &m) {
       fn(m)["kernels"][2]["attrs"]["program"]["instructions"][0]["args"][1] =
           2;
     },
     "functions[0].kernels[2].attrs.program.instructions[0].args[1]: register "
     "2 is not defined"},
    {"ProgramOutputRegister",
     [](json &m) { fn(m)["kernels"][2]["attrs"]["program"]["outputs"][0] = 3; },
     "attrs.program.outputs[0]: register 3 out of range"},
    {"ProgramOutputCount",
     [](json &m) {
       fn(m)["kernels"][2]["attrs"]["program"]["outputs"].push_back(2);
     },
     "attrs.program.outputs: names 2 registers but the kernel has 1 outputs"},
    {"ProgramUnknownOp",
     [](json &m) {
       fn(m)["kernels"][2]["attrs"]["program"]["instructions"][0]["op"] = "exp";
     },
     "instructions[0].op: unknown elementwise op 'exp'"},
    {"ProgramArity",
     [](json &m) {
       fn(m)["kernels"][2]["attrs"]["program"]["instructions"][0]["op"] = "neg";
     },
     "op 'neg' takes 1 arguments, got 2"},
    {"ProgramScaleNeedsFactor",
     [](json &m) {
       auto &ins = fn(m)["kernels"][2]["attrs"]["program"]["instructions"];
       ins.push_back({{"op", "scale"}, {"args", {2}}});
     },
     "instructions[1].factor: missing or not a number"},
    {"ProgramLayernormNotLast",
     [](json &m) {
       auto &ins = fn(m)["kernels"][2]["attrs"]["program"]["instructions"];
       ins[0] = {{"op", "layernorm"}, {"args", {0, 1, 1}}, {"epsilon", 1e-5}};
       ins.push_back({{"op", "neg"}, {"args", {2}}});
     },
     "instructions[0]: layernorm may only be the last instruction"},
    {"ShapeMismatch",
     [](json &m) {
       fn(m)["values"][9]["shape"] = {-1, -2, 15};
     },
     "functions[0].kernels[4]: kernel 'linear': y has shape"},
    {"ElementwiseNotSuffix",
     [](json &m) { fn(m)["kernels"][2]["inputs"][1] = 2; },
     "input 1 [8, 8] is not a suffix"},
    {"OutputDuplicate",
     [](json &m) { fn(m)["outputs"].push_back(fn(m)["outputs"][0]); },
     "functions[0].outputs[1].name: duplicate output name 'logits'"},
    {"OutputValueRange", [](json &m) { fn(m)["outputs"][0]["value"] = 100; },
     "functions[0].outputs[0].value: value id 100 out of range"},
    {"OutputAliasRange",
     [](json &m) { fn(m)["outputs"][0]["alias_input"] = 9; },
     "functions[0].outputs[0].alias_input: input index 9 out of range"},
    {"OutputAliasMismatch",
     [](json &m) { fn(m)["outputs"][0]["alias_input"] = 1; },
     "does not fit input 'wte.weight'"},
    {"WritesReadOnlyInput",
     [](json &m) { fn(m)["kernels"][3]["outputs"][0] = 1; },
     "writes into input 'wte.weight', which no function output aliases"},
    {"WrittenTwice",
     [](json &m) {
       fn(m)["kernels"][2]["outputs"] = {7, 7};
       fn(m)["kernels"][2]["attrs"]["program"]["outputs"] = {2, 2};
     },
     "is written twice by one kernel"},
    {"UnknownKernelField", [](json &m) { fn(m)["kernels"][0]["name"] = "x"; },
     "functions[0].kernels[0]: unknown field 'name'"},
    {"ArenaNegative", [](json &m) { fn(m)["arena"]["static_bytes"] = -64; },
     "functions[0].arena.static_bytes: integer -64 out of range"},
    {"ArenaHuge",
     [](json &m) { fn(m)["arena"]["static_bytes"] = uint64_t(1) << 63; },
     "functions[0].arena.static_bytes: integer"},
};

INSTANTIATE_TEST_SUITE_P(Artifact, SchemaViolation,
                         ::testing::ValuesIn(kSchemaCases),
                         [](const auto &info) { return info.param.name; });

TEST(Artifact, FloatAttrStrings) {
  FunctionBuilder b;
  int x = b.input("x", {-1, -2, 4});
  int y = b.temp({-1, -2, 4});
  b.kernel("causal_mask", {x}, {y}, {{"fill", "-inf"}});
  b.output("y", y);
  Artifact a = test::artifactOf(b);
  EXPECT_TRUE(std::isinf(attrFloat(a.functions[0].kernels[0], "fill")));
  EXPECT_LT(attrFloat(a.functions[0].kernels[0], "fill"), 0);
  json m = test::manifestOf({b.function()});
  m["functions"][0]["kernels"][0]["attrs"]["fill"] = "-infinity";
  EXPECT_NE(parseError(m).find("expected a number"), std::string::npos);
}

TEST(Artifact, VulkanSpirvDecodedOnce) {
  json m = validManifest();
  makeVulkan(m);
  Artifact a = parseArtifact(serializeArtifact(m), "model.gptart");
  EXPECT_EQ(a.target, "vulkan");
  EXPECT_EQ(a.functions[0].kernels[2].spirv, spirvWords());
  EXPECT_TRUE(a.functions[0].kernels[3].spirv.empty());
  // In memory: the decoded words are what the validator checks.
  a.functions[0].kernels[2].spirv.clear();
  EXPECT_NE(errorOf([&] {
              validateArtifact(a, "mem");
            }).find("kernels[2].attrs.spirv: SPIR-V not decoded"),
            std::string::npos);
  a.target = "gpu";
  EXPECT_NE(errorOf([&] {
              validateArtifact(a, "mem");
            }).find("mem: target: unknown target 'gpu'"),
            std::string::npos);
}

TEST(Base64, RoundTripAndRejects) {
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    std::string data;
    for (int i = 0; i < n; ++i)
      data.push_back(char(i * 37 + n));
    std::string text = base64Encode(data.data(), data.size());
    EXPECT_EQ(text.size() % 4, 0u);
    ASSERT_TRUE(base64Decode(text, bytes)) << text;
    EXPECT_EQ(bytes, data);
  }
  EXPECT_EQ(base64Encode("Man", 3), "TWFu");
  EXPECT_EQ(base64Encode("Ma", 2), "TWE=");
  EXPECT_EQ(base64Encode("M", 1), "TQ==");
  for (const char *bad :
       {"TWF", "TW=u", "T===", "=TWE", "TQ==TWFu", "TW E", "TWE-"})
    EXPECT_FALSE(base64Decode(bad, bytes)) << bad;
}

TEST(Artifact, ValidateInMemory) {
  Artifact a = test::artifactOf(forwardBuilder());
  EXPECT_NO_THROW(validateArtifact(a, "mem"));
  a.functions[0].kernels[0].outputs[0] = 77;
  std::string msg = errorOf([&] { validateArtifact(a, "mem"); });
  EXPECT_EQ(msg, "mem: functions[0].kernels[0].outputs[0]: value id 77 out of "
                 "range (function has 10 values)");
}

TEST(Artifact, SymbolicCountAndBind) {
  SymbolicCount c = symbolicCount({-1, -2, 3, 4});
  EXPECT_EQ(c.factor, 12);
  EXPECT_EQ(c.batchPower, 1);
  EXPECT_EQ(c.seqPower, 1);
  EXPECT_EQ(bindShape({-1, -2, 3}, 2, 5), (std::vector<int64_t>{2, 5, 3}));
  EXPECT_THROW(bindShape({-1, -2}, int64_t(1) << 30, int64_t(1) << 30),
               ArtifactError);
  // -3: the KV pool size N.
  SymbolicCount pool = symbolicCount({-3, 16, 8});
  EXPECT_EQ(pool.factor, 128);
  EXPECT_EQ(pool.poolPower, 1);
  EXPECT_EQ(pool.batchPower, 0);
  EXPECT_FALSE(pool == symbolicCount({-1, 16, 8}));
  EXPECT_EQ(bindShape({-3, 16, 8}, 2, 5, 9), (std::vector<int64_t>{9, 16, 8}));
  try {
    bindShape({-3, 16, 8}, 2, 5);
    ADD_FAILURE() << "unbound N accepted";
  } catch (const ArtifactError &e) {
    EXPECT_NE(std::string(e.what()).find("N (-3), which is not bound"),
              std::string::npos)
        << e.what();
  }
}

// Random corruption of a valid artifact never crashes and only ever throws
// ArtifactError (or succeeds, when a flip happens to keep it valid).
TEST(ArtifactFuzz, ByteFlipsAndTruncations) {
  std::string good = serializeArtifact(validManifest());
  std::string payload = good.substr(24);
  std::mt19937 rng(1234);
  int accepted = 0, rejected = 0;
  auto attempt = [&](const std::string &bytes) {
    try {
      parseArtifact(bytes, "fuzz.gptart");
      ++accepted;
    } catch (const ArtifactError &) {
      ++rejected;
    }
  };
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes = good;
    int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f)
      bytes[rng() % bytes.size()] ^= char(1u << (rng() % 8));
    attempt(bytes); // almost always a CRC failure
    // Flip inside the payload and fix the CRC so the JSON and schema layers
    // see the damage.
    std::string p = payload;
    for (int f = 0; f < flips; ++f) {
      size_t at = rng() % p.size();
      if (rng() % 2)
        p[at] ^= char(1u << (rng() % 8));
      else
        p[at] = "0123456789-[]{}\",:.e "[rng() % 21];
    }
    attempt(withHeader(p));
    attempt(good.substr(0, rng() % good.size()));
    attempt(withHeader(p.substr(0, rng() % p.size())));
  }
  EXPECT_GT(rejected, 0);
  SUCCEED() << accepted << " accepted, " << rejected << " rejected";
}

// Structured fuzz: replace one JSON number anywhere with an odd value.
TEST(ArtifactFuzz, NumberMutations) {
  json base = validManifest();
  std::vector<json::json_pointer> numbers;
  std::function<void(const json &, const json::json_pointer &)> walk =
      [&](const json &j, const json::json_pointer &ptr) {
        if (j.is_number())
          numbers.push_back(ptr);
        else if (j.is_array())
          for (size_t i = 0; i < j.size(); ++i)
            walk(j[i], ptr / i);
        else if (j.is_object())
          for (auto it = j.begin(); it != j.end(); ++it)
            walk(it.value(), ptr / it.key());
      };
  walk(base, json::json_pointer());
  ASSERT_GT(numbers.size(), 50u);
  const json odd[] = {-1,
                      -2,
                      -3,
                      0,
                      1,
                      7,
                      63,
                      64,
                      1000000,
                      int64_t(1) << 40,
                      int64_t(1) << 62,
                      3.5,
                      -0.0,
                      "x",
                      nullptr,
                      json::array(),
                      uint64_t(-1)};
  for (const auto &ptr : numbers)
    for (const json &v : odd) {
      json m = base;
      m[ptr] = v;
      try {
        parseArtifact(serializeArtifact(m), "fuzz.gptart");
      } catch (const ArtifactError &) {
      }
    }
}
