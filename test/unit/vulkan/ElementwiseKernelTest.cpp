//===- ElementwiseKernelTest.cpp ------------------------------------------===//
//
// `elementwise` kernels on Vulkan: the compiler's generated shaders
// (target/vulkan/ElementwiseGlsl.h, compiled here with libshaderc as gptc
// does) against the CPU interpreter.
//
// Tolerances: add/sub/mul/scale/neg are single IEEE operations on both
// sides, but a driver may contract a*b+c into an FMA: rtol 1e-6. gelu and
// gelu_grad use the GPU's exp where the CPU uses a Cephes polynomial (both
// ~2 ulp) inside tanh = 1 - 2/(e^2u + 1): atol/rtol 1e-5. layernorm sums
// the row in a different order (a tree in shared memory vs the CPU's SIMD
// lanes): atol/rtol 1e-5 on outputs of magnitude ~1.
#include "target/vulkan/ElementwiseGlsl.h"
#include "target/vulkan/ShaderCompiler.h"
#include "vulkan/Parity.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace gpt::test {
namespace {

/// The Vulkan artifact of `b` with every elementwise program compiled, as
/// gptc --target=vulkan embeds it.
Artifact vulkanArtifactWithSpirv(const FunctionBuilder &b) {
  json m = manifestOf({b.function()});
  m["target"] = "vulkan";
  vk::attachElementwiseSpirv(m);
  return parseArtifact(serializeArtifact(m), "test.gptart");
}

/// runBoth (Parity.h) with the generated shaders attached; the Vulkan side
/// runs twice, so its result comes from a replayed command buffer.
ParityResult runEw(const FunctionBuilder &b,
                   const std::map<std::string, Buf> &inputs) {
  Artifact vkArtifact = vulkanArtifactWithSpirv(b);
  return runBoth(b, inputs, &vkArtifact, /*replay=*/true);
}

json ins(const char *op, std::vector<int> args) {
  return {{"op", op}, {"args", args}};
}
json program(std::vector<json> instructions, std::vector<int> outputs) {
  return {{"program", {{"instructions", instructions}, {"outputs", outputs}}}};
}

TEST(VulkanElementwise, GeneratedShadersCompile) {
  // Both modes, all ops; a bad program is an error, not a crash.
  std::string b64, err;
  EXPECT_TRUE(vk::compileElementwiseProgram(
      program({ins("add", {0, 1}),
               ins("sub", {2, 0}),
               ins("mul", {3, 1}),
               ins("neg", {4}),
               ins("gelu", {5}),
               ins("gelu_grad", {6, 0}),
               {{"op", "scale"}, {"args", {7}}, {"factor", 0.25}}},
              {8, 2})["program"]
          .dump(),
      2, b64, err))
      << err;
  std::vector<uint32_t> words;
  EXPECT_EQ(decodeSpirvAttr(b64, words), "");
  EXPECT_FALSE(vk::compileElementwiseProgram(
      program({ins("add", {0, 5})}, {2})["program"].dump(), 2, b64, err));
  EXPECT_NE(err.find("register 5"), std::string::npos) << err;
  EXPECT_FALSE(vk::compileElementwiseProgram("{\"x\": 1}", 1, b64, err));
}

TEST(VulkanElementwise, PlainAdd) {
  // 3*7*45 = 945 elements: not a multiple of the 256-thread group, D not a
  // multiple of 4.
  FunctionBuilder b;
  int x = b.input("x", {-1, -2, 45}), y = b.input("y", {-1, -2, 45});
  int z = b.temp({-1, -2, 45});
  b.kernel("elementwise", {x, y}, {z}, program({ins("add", {0, 1})}, {2}));
  b.output("z", z);
  auto r = runEw(b, {{"x", randn({3, 7, 45}, 1)}, {"y", randn({3, 7, 45}, 2)}});
  expectParity(r, 0.0f, 1e-6f);
}

TEST(VulkanElementwise, BroadcastSuffixAndScalar) {
  // x [B,T,D] with bias [D], pos [T,D] and a 0-d scale; two outputs.
  // Static shapes: the reader wants a [T, D] input to match for every T.
  FunctionBuilder b;
  const int64_t D = 13;
  int x = b.input("x", {2, 5, D});
  int bias = b.input("bias", {D}, "f32", "param");
  int pos = b.input("pos", {5, D}, "f32", "param");
  int s = b.input("s", {});
  int y0 = b.temp({2, 5, D}), y1 = b.temp({2, 5, D});
  b.kernel("elementwise", {x, bias, pos, s}, {y0, y1},
           program({ins("add", {0, 1}),
                    ins("mul", {4, 3}),
                    ins("sub", {5, 2}),
                    ins("neg", {6}),
                    {{"op", "scale"}, {"args", {7}}, {"factor", -1.5}}},
                   {6, 8}));
  b.output("y0", y0);
  b.output("y1", y1);
  auto r = runEw(b, {{"x", randn({2, 5, D}, 3)},
                     {"bias", randn({D}, 4)},
                     {"pos", randn({5, D}, 5)},
                     {"s", scalar(0.7f)}});
  expectParity(r, 1e-6f, 1e-6f);
}

TEST(VulkanElementwise, ZeroDimOutput) {
  // A 0-d program (loss scaling): D = 1, one row.
  FunctionBuilder b;
  int x = b.input("x", {}), s = b.input("s", {});
  int y = b.temp({});
  b.kernel("elementwise", {x, s}, {y},
           program({ins("mul", {0, 1}), ins("neg", {2})}, {3}));
  b.output("y", y);
  auto r = runEw(b, {{"x", scalar(3.25f)}, {"s", scalar(-0.5f)}});
  expectParity(r, 0.0f, 0.0f);
}

Buf geluInputs(std::vector<int64_t> shape, uint32_t seed) {
  Buf x = randn(std::move(shape), seed, 3.0f);
  // Saturation and the exact zero: tanh must not turn into NaN.
  const float special[] = {0.0f,   -0.0f,   20.0f, -20.0f,
                           100.0f, -100.0f, 1e-3f, -8.5f};
  for (size_t i = 0; i < 8 && i < x.f.size(); ++i)
    x.f[i] = special[i];
  return x;
}

TEST(VulkanElementwise, GeluAndGeluGrad) {
  FunctionBuilder b;
  int x = b.input("x", {-1, -2, 31}), dy = b.input("dy", {-1, -2, 31});
  int h = b.temp({-1, -2, 31}), dx = b.temp({-1, -2, 31});
  b.kernel("elementwise", {x}, {h}, program({ins("gelu", {0})}, {1}));
  b.kernel("elementwise", {dy, x}, {dx},
           program({ins("gelu_grad", {0, 1})}, {2}));
  b.output("h", h);
  b.output("dx", dx);
  auto r = runEw(
      b, {{"x", geluInputs({2, 9, 31}, 6)}, {"dy", randn({2, 9, 31}, 7)}});
  expectParity(r, 1e-5f, 1e-5f);
}

FunctionBuilder residualLayerNorm(int64_t D) {
  // The block's fused "residual add + layernorm": outputs h = x + a and
  // ln(h), gamma and beta as suffix ([D]) inputs; beta through an
  // instruction so row mode recomputes a chain.
  FunctionBuilder b;
  int x = b.input("x", {-1, -2, D}), a = b.input("a", {-1, -2, D});
  int g = b.input("g", {D}, "f32", "param");
  int be = b.input("be", {D}, "f32", "param");
  int h = b.temp({-1, -2, D}), y = b.temp({-1, -2, D});
  b.kernel(
      "elementwise", {x, a, g, be}, {h, y},
      program({ins("add", {0, 1}),
               {{"op", "scale"}, {"args", {3}}, {"factor", 0.5}},
               {{"op", "layernorm"}, {"args", {4, 2, 5}}, {"epsilon", 1e-5}}},
              {4, 6}));
  b.output("h", h);
  b.output("y", y);
  return b;
}

TEST(VulkanElementwise, LayerNormLastSmallRow) {
  // D = 37 < the 128-thread group: idle threads still join the reductions.
  const int64_t D = 37;
  auto r = runEw(residualLayerNorm(D), {{"x", randn({2, 3, D}, 8)},
                                        {"a", randn({2, 3, D}, 9)},
                                        {"g", randn({D}, 10)},
                                        {"be", randn({D}, 11)}});
  expectParity(r, 1e-5f, 1e-5f);
}

TEST(VulkanElementwise, LayerNormLastWideRow) {
  // D = 301 > 128: each thread loops over 3 columns; a large mean checks
  // the two-pass variance.
  const int64_t D = 301;
  Buf x = randn({3, 5, D}, 12);
  for (float &v : x.f)
    v += 50.0f;
  auto r = runEw(residualLayerNorm(D), {{"x", x},
                                        {"a", randn({3, 5, D}, 13)},
                                        {"g", randn({D}, 14)},
                                        {"be", randn({D}, 15)}});
  expectParity(r, 1e-4f, 1e-5f);
}

TEST(VulkanElementwise, InPlaceIntoCallerBuffer) {
  // grad = grad + 0.5 * x, written into the caller's buffer (alias_input).
  FunctionBuilder b;
  int x = b.input("x", {-1, -2, 19});
  int grad = b.input("grad.w", {-1, -2, 19}, "f32", "state");
  int g2 = b.alias(grad, {-1, -2, 19});
  b.kernel("elementwise", {grad, x}, {g2},
           program({{{"op", "scale"}, {"args", {1}}, {"factor", 0.5}},
                    ins("add", {0, 2})},
                   {3}));
  b.output("grad.w'", g2, 1);
  auto r = runEw(
      b, {{"x", randn({4, 5, 19}, 16)}, {"grad.w", randn({4, 5, 19}, 17)}});
  expectParity(r, 0.0f, 1e-6f);
}

TEST(VulkanElementwise, InPlaceInArenaBothModes) {
  // The planner may put an output on a dying same-shaped input: h is
  // overwritten by gelu(h + bias), then by layernorm(h) (row mode reads the
  // whole row twice before writing it).
  const int64_t D = 150;
  FunctionBuilder b;
  int x = b.input("x", {-1, -2, D});
  int bias = b.input("bias", {D}, "f32", "param");
  int g = b.input("g", {D}, "f32", "param");
  int h = b.temp({-1, -2, D});
  int h2 = b.alias(h, {-1, -2, D});
  int h3 = b.alias(h, {-1, -2, D});
  b.kernel("elementwise", {x}, {h},
           program({{{"op", "scale"}, {"args", {0}}, {"factor", 2.0}}}, {1}));
  b.kernel("elementwise", {h, bias}, {h2},
           program({ins("add", {0, 1}), ins("gelu", {2})}, {3}));
  b.kernel(
      "elementwise", {h2, g, bias}, {h3},
      program({{{"op", "layernorm"}, {"args", {0, 1, 2}}, {"epsilon", 1e-5}}},
              {3}));
  b.output("y", h3);
  auto r = runEw(b, {{"x", randn({2, 3, D}, 18)},
                     {"bias", randn({D}, 19)},
                     {"g", randn({D}, 20)}});
  expectParity(r, 1e-5f, 1e-5f);
}

TEST(VulkanElementwise, ManyRowsAndIdenticalPrograms) {
  // More rows than one workgroup handles in either mode, and two kernels
  // with the same program (one pipeline).
  const int64_t D = 6;
  FunctionBuilder b;
  int x = b.input("x", {-1, -2, D}), y = b.input("y", {-1, -2, D});
  int g = b.input("g", {D}, "f32", "param");
  int z0 = b.temp({-1, -2, D}), z1 = b.temp({-1, -2, D});
  int z2 = b.temp({-1, -2, D});
  b.kernel("elementwise", {x, y}, {z0}, program({ins("sub", {0, 1})}, {2}));
  b.kernel("elementwise", {z0, x}, {z1}, program({ins("sub", {0, 1})}, {2}));
  b.kernel(
      "elementwise", {z1, g, g}, {z2},
      program({{{"op", "layernorm"}, {"args", {0, 1, 2}}, {"epsilon", 1e-3}}},
              {3}));
  b.output("z1", z1);
  b.output("z2", z2);
  auto r = runEw(b, {{"x", randn({5, 67, D}, 21)},
                     {"y", randn({5, 67, D}, 22)},
                     {"g", randn({D}, 23)}});
  expectParity(r, 1e-5f, 1e-5f);
}

} // namespace
} // namespace gpt::test

namespace gpt::test {
namespace {

/// The whole path: gptc --target=vulkan on the tiny lit config, loaded by
/// the reader and run (forward, eval_loss) on Vulkan against the same
/// config compiled for cpu. Needs gptc (GPT_BUILD_COMPILER); skipped
/// otherwise.
TEST(VulkanElementwise, GptcVulkanArtifactMatchesCpu) {
  std::string gptc = std::string(GPT_BINARY_DIR) + "/bin/gptc";
  std::string config =
      std::string(GPT_SOURCE_DIR) + "/test/lit/Inputs/tiny.json";
  if (std::system(("test -x " + gptc).c_str()) != 0)
    GTEST_SKIP() << "no gptc in " << GPT_BINARY_DIR;
  std::string dir = ::testing::TempDir();
  std::string cpuPath = dir + "/ew_tiny_cpu.gptart",
              vkPath = dir + "/ew_tiny_vk.gptart";
  ASSERT_EQ(std::system((gptc + " --config " + config +
                         " --emit=artifact --target=cpu -o " + cpuPath)
                            .c_str()),
            0);
  ASSERT_EQ(std::system((gptc + " --config " + config +
                         " --emit=artifact --target=vulkan -o " + vkPath)
                            .c_str()),
            0);
  Artifact cpuArt = readArtifact(cpuPath), vkArt = readArtifact(vkPath);
  ASSERT_EQ(vkArt.target, "vulkan");
  size_t withSpirv = 0;
  for (const Function &f : vkArt.functions)
    for (const Kernel &k : f.kernels)
      if (k.kernel == "elementwise") {
        EXPECT_FALSE(k.spirv.empty());
        ++withSpirv;
      }
  EXPECT_GT(withSpirv, 0u);
  CpuExecutor cpu(cpuArt, 1);
  VulkanExecutor vk(vkArt, testVulkanOptions());
  const int64_t B = 2, T = 5, V = cpuArt.config.vocab_size;
  for (const char *name : {"forward", "eval_loss"}) {
    const Function &f = *cpuArt.findFunction(name);
    std::map<std::string, Buf> bufs;
    uint32_t seed = 100;
    for (const FunctionInput &in : f.inputs) {
      std::vector<int64_t> shape = bindShape(f.values[in.value].shape, B, T);
      if (f.values[in.value].dtype == DType::I32) {
        Buf b = ints(shape, {});
        b.i.resize(b.size());
        for (size_t i = 0; i < b.i.size(); ++i)
          b.i[i] = int32_t((i * 7 + 3) % V);
        bufs[in.name] = b;
      } else if (in.name == "weights") {
        Buf b = randn(shape, seed++);
        for (float &w : b.f)
          w = 1.0f;
        bufs[in.name] = b;
      } else {
        bufs[in.name] = randn(shape, seed++, 0.3f);
      }
    }
    std::map<std::string, TensorView> cv, vv;
    auto vkBufs = bufs;
    for (auto &kv : bufs)
      cv[kv.first] = kv.second.view();
    for (auto &kv : vkBufs)
      vv[kv.first] = kv.second.view();
    auto want = cpu.run(name, cv);
    auto got = vk.run(name, vv);
    // Whole-model: matmul and softmax reductions in other orders too.
    for (const auto &kv : want)
      expectClose(kv.second, got.at(kv.first), 1e-4f, 1e-3f,
                  std::string(name) + "." + kv.first);
  }
  EXPECT_EQ(vk.validationMessages(), 0) << vk.lastValidationMessage();
}

} // namespace
} // namespace gpt::test
