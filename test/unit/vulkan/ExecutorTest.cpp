//===- ExecutorTest.cpp ---------------------------------------------------===//
//
// The Vulkan executor itself: devices, binding, staging, replay, profiling,
// errors. Kernels are tested per group in the *KernelTest.cpp files.
#include "runtime/vulkan/KernelContext.h"
#include "vulkan/Parity.h"

#include <cstdlib>

namespace gpt::test {
namespace {

/// y = copy(x); z = fill(7) with y, z of shape [B, T, 3]; x updated in
/// place through an aliased copy of z.
FunctionBuilder copyFillFunction() {
  FunctionBuilder b;
  b.name = "f";
  int x = b.input("x", {-1, -2, 3});
  int acc = b.input("acc", {-1, -2, 3}, "f32", "state");
  int y = b.temp({-1, -2, 3});
  int z = b.temp({-1, -2, 3});
  int accOut = b.alias(acc, {-1, -2, 3});
  b.kernel("copy", {x}, {y});
  b.kernel("fill", {}, {z}, {{"value", 7.0}});
  b.kernel("copy", {z}, {accOut});
  b.output("y", y);
  b.output("z", z);
  b.output("acc", accOut, 1);
  return b;
}

TEST(VulkanExecutor, ListsDevicesWithFacts) {
  std::vector<VulkanDeviceInfo> devices = listVulkanDevices();
  ASSERT_FALSE(devices.empty());
  for (const VulkanDeviceInfo &d : devices) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_FALSE(d.type.empty());
    EXPECT_GT(d.subgroupSize, 0u);
  }
}

TEST(VulkanExecutor, CopyFillAndInPlaceMatchCpu) {
  FunctionBuilder b = copyFillFunction();
  std::map<std::string, Buf> in{{"x", randn({2, 5, 3}, 1)},
                                {"acc", randn({2, 5, 3}, 2)}};
  ParityResult r = runBoth(b, in);
  expectParity(r, 0.0f, 0.0f);
  EXPECT_EQ(r.vk.at("z").f32, std::vector<float>(30, 7.0f));
  EXPECT_EQ(r.vkInputs.at("acc").f, std::vector<float>(30, 7.0f));
}

// Executors with the same options share one device context for the
// process (Context::acquire): NVIDIA's driver (580, in a VM) failed every
// vkCreateInstance after ~30 create/destroy cycles in one test binary.
// Sixty executors opened and closed in a row, each with its own buffers,
// all compute the right thing, and each one's validation count starts at 0.
TEST(VulkanExecutor, ManyExecutorsInOneProcess) {
  FunctionBuilder b = copyFillFunction();
  Artifact artifact = vulkanArtifactOf(b);
  for (int i = 0; i < 60; ++i) {
    VulkanExecutor vk(artifact, testVulkanOptions());
    Buf x = randn({1, 2, 3}, uint32_t(i)), acc = randn({1, 2, 3}, 3);
    auto out = vk.run("f", {{"x", x.view()}, {"acc", acc.view()}});
    ASSERT_EQ(out.at("y").f32, x.f) << "executor " << i;
    ASSERT_EQ(vk.validationMessages(), 0) << vk.lastValidationMessage();
  }
}

TEST(VulkanExecutor, StagingPathGivesTheSameResults) {
  FunctionBuilder b = copyFillFunction();
  VulkanOptions o = testVulkanOptions();
  o.forceStaging = true;
  VulkanExecutor vk(vulkanArtifactOf(b), o);
  Buf x = randn({3, 4, 3}, 5), acc = randn({3, 4, 3}, 6);
  auto out = vk.run("f", {{"x", x.view()}, {"acc", acc.view()}});
  EXPECT_EQ(out.at("y").f32, x.f);
  EXPECT_EQ(acc.f, std::vector<float>(36, 7.0f));
  EXPECT_EQ(vk.validationMessages(), 0) << vk.lastValidationMessage();
}

TEST(VulkanExecutor, ReplaysAndRebindsAcrossCalls) {
  FunctionBuilder b = copyFillFunction();
  VulkanExecutor vk(vulkanArtifactOf(b), testVulkanOptions());
  // Same binding twice (replay), then larger and smaller ones.
  for (auto shape : std::vector<std::vector<int64_t>>{
           {2, 3, 3}, {2, 3, 3}, {4, 7, 3}, {1, 1, 3}, {4, 7, 3}}) {
    Buf x = randn(shape, uint32_t(shape[0] * 10 + shape[1]));
    Buf acc = randn(shape, 9);
    auto out = vk.run("f", {{"x", x.view()}, {"acc", acc.view()}});
    EXPECT_EQ(out.at("y").f32, x.f);
    EXPECT_EQ(out.at("y").shape, shape);
  }
  EXPECT_EQ(vk.validationMessages(), 0) << vk.lastValidationMessage();
}

TEST(VulkanExecutor, ProfilesKernelsWithTimestamps) {
  FunctionBuilder b = copyFillFunction();
  VulkanExecutor vk(vulkanArtifactOf(b), testVulkanOptions());
  vk.setProfiling(true);
  Buf x = randn({2, 3, 3}, 1), acc = randn({2, 3, 3}, 2);
  vk.run("f", {{"x", x.view()}, {"acc", acc.view()}});
  vk.run("f", {{"x", x.view()}, {"acc", acc.view()}});
  ASSERT_EQ(vk.profile().count("copy"), 1u);
  EXPECT_EQ(vk.profile().at("copy").calls, 4); // two kernels, two calls
  EXPECT_EQ(vk.profile().at("fill").calls, 2);
  EXPECT_GE(vk.profile().at("copy").seconds, 0.0);
  vk.setProfiling(false);
  vk.run("f", {{"x", x.view()}, {"acc", acc.view()}});
  EXPECT_EQ(vk.profile().at("fill").calls, 2);
  EXPECT_EQ(vk.validationMessages(), 0) << vk.lastValidationMessage();
}

TEST(VulkanExecutor, RejectsCpuArtifactsAndBadBindings) {
  FunctionBuilder b = copyFillFunction();
  try {
    VulkanExecutor vk(artifactOf(b), testVulkanOptions());
    FAIL() << "a cpu artifact was accepted";
  } catch (const ExecutorError &e) {
    EXPECT_NE(std::string(e.what()).find("target 'vulkan'"), std::string::npos)
        << e.what();
  }
  VulkanExecutor vk(vulkanArtifactOf(b), testVulkanOptions());
  Buf x = randn({2, 3, 3}, 1), acc = randn({2, 4, 3}, 2);
  try {
    vk.run("f", {{"x", x.view()}, {"acc", acc.view()}});
    FAIL() << "mismatched T was accepted";
  } catch (const ExecutorError &e) {
    EXPECT_NE(std::string(e.what()).find("input 'acc'"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(vk.run("g", {}), ExecutorError);
}

TEST(VulkanExecutor, BadDeviceIndexIsAClearError) {
  FunctionBuilder b = copyFillFunction();
  VulkanOptions o = testVulkanOptions();
  o.device = 99;
  try {
    VulkanExecutor vk(vulkanArtifactOf(b), o);
    FAIL() << "device 99 was accepted";
  } catch (const ExecutorError &e) {
    EXPECT_NE(std::string(e.what()).find("no Vulkan device 99"),
              std::string::npos)
        << e.what();
  }
}

} // namespace
} // namespace gpt::test

namespace gpt::test {
namespace {

/// acc += x (in place) through an elementwise-free program: y = copy(acc)
/// is not possible without arithmetic, so the function copies x into acc
/// and returns acc's old value: out = copy(acc); acc' = copy(x).
FunctionBuilder swapFunction() {
  FunctionBuilder b;
  b.name = "swap";
  int x = b.input("x", {4});
  int acc = b.input("acc", {4}, "f32", "state");
  int old = b.temp({4});
  int accOut = b.alias(acc, {4});
  b.kernel("copy", {acc}, {old});
  b.kernel("copy", {x}, {accOut});
  b.output("old", old);
  b.output("acc", accOut, 1);
  return b;
}

void residentRoundTrip(bool staging) {
  VulkanOptions o = testVulkanOptions();
  o.forceStaging = staging;
  VulkanExecutor vk(vulkanArtifactOf(swapFunction()), o);
  vk.setResident({"acc"});
  Buf acc{DType::F32, {4}, {1, 2, 3, 4}, {}};
  Buf x1{DType::F32, {4}, {5, 6, 7, 8}, {}};
  Buf x2{DType::F32, {4}, {9, 10, 11, 12}, {}};
  // First call uploads acc; its in-place update stays on the device.
  auto out = vk.run("swap", {{"x", x1.view()}, {"acc", acc.view()}});
  EXPECT_EQ(out.at("old").f32, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(acc.f, (std::vector<float>{1, 2, 3, 4})) << "host copy touched";
  // Second call: the device copy (x1) is used, not the stale host buffer.
  out = vk.run("swap", {{"x", x2.view()}, {"acc", acc.view()}});
  EXPECT_EQ(out.at("old").f32, (std::vector<float>{5, 6, 7, 8}));
  std::vector<float> back(4);
  vk.readBack("acc", {DType::F32, {4}, back.data()});
  EXPECT_EQ(back, (std::vector<float>{9, 10, 11, 12}));
  // The host changes it: uploaded again.
  acc.f = {0, 0, 0, 1};
  vk.markHostChanged("acc");
  out = vk.run("swap", {{"x", x1.view()}, {"acc", acc.view()}});
  EXPECT_EQ(out.at("old").f32, (std::vector<float>{0, 0, 0, 1}));
  EXPECT_THROW(vk.readBack("x", {DType::F32, {4}, back.data()}), ExecutorError);
  EXPECT_EQ(vk.validationMessages(), 0) << vk.lastValidationMessage();
}

TEST(VulkanExecutor, ResidentInputsStayOnTheDevice) {
  residentRoundTrip(false);
}

TEST(VulkanExecutor, ResidentInputsThroughStaging) { residentRoundTrip(true); }

} // namespace
} // namespace gpt::test

namespace gpt::test {
namespace {

TEST(VulkanExecutor, PipelineCacheIsWrittenAndACorruptOneIsIgnored) {
  std::string path = testing::TempDir() + "/gpt_vk_pipeline_cache.bin";
  std::remove(path.c_str());
  FunctionBuilder b = copyFillFunction();
  Buf x = randn({2, 3, 3}, 1), acc = randn({2, 3, 3}, 2);
  for (int round = 0; round < 2; ++round) {
    VulkanOptions o = testVulkanOptions();
    o.pipelineCache = path;
    {
      VulkanExecutor vk(vulkanArtifactOf(b), o);
      auto out = vk.run("f", {{"x", x.view()}, {"acc", acc.view()}});
      EXPECT_EQ(out.at("y").f32, x.f);
    } // the cache is saved when the executor goes
    std::FILE *f = std::fopen(path.c_str(), "rb");
    ASSERT_TRUE(f) << "no pipeline cache at " << path;
    std::fseek(f, 0, SEEK_END);
    EXPECT_GT(std::ftell(f), 16);
    std::fclose(f);
    // Round 2 starts from a corrupt file: a rebuild, not an error.
    f = std::fopen(path.c_str(), "wb");
    std::fputs("not a pipeline cache", f);
    std::fclose(f);
  }
  std::remove(path.c_str());
}

TEST(VulkanExecutor, TensorLargerThanMaxStorageBufferRange) {
  // 40 Mi floats = 160 MiB, more than lavapipe's 128 MiB
  // maxStorageBufferRange: reached by device address, not a descriptor.
  const int64_t n = 40 << 20;
  FunctionBuilder b;
  b.name = "big";
  int x = b.input("x", {n});
  int y = b.temp({n});
  b.kernel("copy", {x}, {y});
  b.output("y", y);
  Buf in;
  in.shape = {n};
  in.f.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i)
    in.f[size_t(i)] = float(i % 1000003);
  VulkanExecutor vk(vulkanArtifactOf(b), testVulkanOptions());
  auto out = vk.run("big", {{"x", in.view()}});
  const std::vector<float> &got = out.at("y").f32;
  ASSERT_EQ(got.size(), size_t(n));
  for (int64_t i : {int64_t(0), int64_t(1), (int64_t(32) << 20) + 5, n - 1})
    EXPECT_EQ(got[size_t(i)], float(i % 1000003)) << "element " << i;
  EXPECT_EQ(got, in.f);
}

} // namespace
} // namespace gpt::test

namespace gpt::test {
namespace {
// Adding a kernel to schema/Kernels.def means adding its record
// function: the table covers the registry, and `alias` (a view) alone has
// none.
TEST(VulkanKernelTable, EveryRegistryKernelButAliasHasARecordFunction) {
  const vk::KernelTable &table = vk::kernelTable();
  for (size_t i = 0; i < static_cast<size_t>(KernelId::Count); ++i) {
    auto id = static_cast<KernelId>(i);
    EXPECT_EQ(table.fns[i] != nullptr, id != KernelId::Alias) << kernelName(id);
  }
}
} // namespace
} // namespace gpt::test
