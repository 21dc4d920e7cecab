//===- OptimizerKernelTest.cpp --------------------------------------------===//
//
// Vulkan parity of global_norm, lr_schedule and adamw against the CPU
// executor (linked into vulkan_normloss_kernel_test).
#include "vulkan/Parity.h"

using namespace gpt;
using namespace gpt::test;

namespace {

struct OptCase {
  FunctionBuilder b;
  std::map<std::string, Buf> bufs;

  int in(const std::string &name, Buf buf, std::vector<int64_t> declared = {}) {
    const char *dtype = buf.dtype == DType::F32 ? "f32" : "i32";
    int id = b.input(name, declared.empty() ? buf.shape : declared, dtype);
    bufs[name] = std::move(buf);
    return id;
  }
};

} // namespace

// Tolerance: relative 1e-5. The CPU sums squares in double lanes, the shader
// in fp32: per-chunk tree sums of 8192 squares, then a fixed-order sum of
// the chunks; the sizes cross the chunk (8192) and workgroup (128) widths.
TEST(VulkanOptimizer, GlobalNorm) {
  OptCase c;
  int a = c.in("a", randn({7}, 60));
  int b = c.in("b", randn({20000}, 61, 3.0f));
  int d = c.in("d", randn({64, 128}, 62, 0.01f)); // exactly one chunk
  int e = c.in("e", randn({129}, 63, 100.0f));
  int norm = c.b.temp({}), norm1 = c.b.temp({});
  c.b.kernel("global_norm", {a, b, d, e}, {norm});
  c.b.kernel("global_norm", {a}, {norm1});
  c.b.output("norm", norm);
  c.b.output("norm1", norm1);
  auto r = runBoth(c.b, c.bufs);
  expectClose(r.cpu.at("norm"), r.vk.at("norm"), 0, 1e-5f, "norm");
  expectClose(r.cpu.at("norm1"), r.vk.at("norm1"), 0, 1e-5f, "norm1");
}

// lr: fp32 on the device vs double on the CPU (the cosine by a Taylor
// polynomial, not the device cos): 1e-6 relative. p, m, v: the bias
// corrections 1 / (1 - beta^t) come from log1p/expm1 series in fp32 (to
// avoid 1 - pow cancellation), so p to 1e-6 absolute + 1e-5 relative
// (lr 1e-2 times updates of order 1), m and v to 1e-5 relative.
TEST(VulkanOptimizer, LrScheduleAndAdamW) {
  const int n = 1000;
  std::vector<float> hp = {1e-2f, 1e-3f, 10,   100, 0.9f,
                           0.95f, 1e-8f, 0.1f, 1.0f};
  // Each step once (lavapipe is slow), decay and clipping alternating.
  struct Step {
    int32_t step;
    bool decay, withNorm;
  };
  for (Step sc : {Step{0, true, true}, Step{4, false, true},
                  Step{10, true, false}, Step{55, false, false},
                  Step{100, true, true}, Step{250, false, true}}) {
    int32_t step = sc.step;
    bool decay = sc.decay, withNorm = sc.withNorm;
    std::vector<float> h = hp;
    if (step == 55)
      h[5] = 0.999f; // large 1 / (1 - beta2^t)
    if (step == 4)
      h[4] = 0.0f; // beta1 = 0
    OptCase c;
    int p = c.in("p", randn({n}, 60));
    int g = c.in("g", randn({n}, 61, 0.1f));
    int m = c.in("m", randn({n}, 62, 0.01f));
    Buf vb = randn({n}, 63, 0.01f);
    for (float &x : vb.f)
      x = x * x;
    int v = c.in("v", vb);
    int st = c.in("step", ints({}, {step}), std::vector<int64_t>{});
    int hps = c.in("hparams", floats({9}, h));
    int norm = withNorm ? c.b.temp({}) : -1, lr = c.b.temp({});
    int p2 = c.b.alias(p, {n}), m2 = c.b.alias(m, {n}), v2 = c.b.alias(v, {n});
    if (withNorm)
      c.b.kernel("global_norm", {g}, {norm});
    c.b.kernel("lr_schedule", {st, hps}, {lr});
    c.b.kernel("adamw", {p, g, m, v, lr, norm, st, hps}, {p2, m2, v2},
               {{"decay", decay}});
    c.b.output("lr", lr);
    c.b.output("p'", p2, 0);
    c.b.output("m'", m2, 2);
    c.b.output("v'", v2, 3);
    auto r = runBoth(c.b, c.bufs);
    SCOPED_TRACE("step " + std::to_string(step) + " decay " +
                 std::to_string(decay) + " norm " + std::to_string(withNorm));
    expectClose(r.cpu.at("lr"), r.vk.at("lr"), 0, 1e-6f, "lr");
    expectClose(r.cpuInputs.at("p").f, r.vkInputs.at("p").f, 1e-6f, 1e-5f, "p");
    expectClose(r.cpuInputs.at("m").f, r.vkInputs.at("m").f, 1e-9f, 1e-5f, "m");
    expectClose(r.cpuInputs.at("v").f, r.vkInputs.at("v").f, 1e-12f, 1e-5f,
                "v");
    // The update really happened (not both unchanged).
    EXPECT_NE(r.vkInputs.at("p").f, c.bufs.at("p").f);
  }
}

// Outputs in other buffers than p, m, v: the kernel copies first, the
// inputs stay untouched.
TEST(VulkanOptimizer, AdamWIntoOtherBuffers) {
  const int n = 300;
  OptCase c;
  int p = c.in("p", randn({n}, 70));
  int g = c.in("g", randn({n}, 71, 5.0f));
  int m = c.in("m", randn({n}, 72, 0.1f));
  Buf vb = randn({n}, 73, 0.1f);
  for (float &x : vb.f)
    x = x * x;
  int v = c.in("v", vb);
  int st = c.in("step", ints({}, {7}), std::vector<int64_t>{});
  int hps = c.in("hparams", floats({9}, {3e-3f, 1e-4f, 2, 50, 0.9f, 0.999f,
                                         1e-8f, 0.01f, 0.5f}));
  int norm = c.b.temp({}), lr = c.b.temp({});
  int p2 = c.b.temp({n}), m2 = c.b.temp({n}), v2 = c.b.temp({n});
  c.b.kernel("global_norm", {g, m}, {norm});
  c.b.kernel("lr_schedule", {st, hps}, {lr});
  c.b.kernel("adamw", {p, g, m, v, lr, norm, st, hps}, {p2, m2, v2},
             {{"decay", true}});
  c.b.output("norm", norm);
  c.b.output("p2", p2);
  c.b.output("m2", m2);
  c.b.output("v2", v2);
  auto r = runBoth(c.b, c.bufs);
  expectClose(r.cpu.at("norm"), r.vk.at("norm"), 0, 1e-5f, "norm");
  expectClose(r.cpu.at("p2"), r.vk.at("p2"), 1e-6f, 1e-5f, "p2");
  expectClose(r.cpu.at("m2"), r.vk.at("m2"), 1e-9f, 1e-5f, "m2");
  expectClose(r.cpu.at("v2"), r.vk.at("v2"), 1e-12f, 1e-5f, "v2");
  for (const char *name : {"p", "m", "v"})
    EXPECT_EQ(r.vkInputs.at(name).f, c.bufs.at(name).f) << name;
}

// The step is an exact int32: past 2^24 (where an f32 step would round
// 2^24 + 1 down to 2^24) the schedule still tells consecutive steps apart.
// warmup 2^24, total 2^24 + 2: step 2^24 + 1 is half way down the cosine.
TEST(VulkanOptimizer, LrScheduleStepIsExactPast2To24) {
  const int32_t big = 1 << 24;
  OptCase c;
  int s0 = c.in("s0", ints({}, {big}), std::vector<int64_t>{});
  int s1 = c.in("s1", ints({}, {big + 1}), std::vector<int64_t>{});
  int s2 = c.in("s2", ints({}, {big + 2}), std::vector<int64_t>{});
  int hps = c.in("hparams", floats({9}, {1.0f, 0.5f, float(big), float(big + 2),
                                         0.9f, 0.95f, 1e-8f, 0.0f, 0.0f}));
  int l0 = c.b.temp({}), l1 = c.b.temp({}), l2 = c.b.temp({});
  c.b.kernel("lr_schedule", {s0, hps}, {l0});
  c.b.kernel("lr_schedule", {s1, hps}, {l1});
  c.b.kernel("lr_schedule", {s2, hps}, {l2});
  c.b.output("l0", l0);
  c.b.output("l1", l1);
  c.b.output("l2", l2);
  auto r = runBoth(c.b, c.bufs);
  for (const auto *out : {&r.cpu, &r.vk}) {
    EXPECT_NEAR(out->at("l0").f32.at(0), 1.0f, 1e-6f);
    EXPECT_NEAR(out->at("l1").f32.at(0), 0.75f, 1e-6f);
    EXPECT_NEAR(out->at("l2").f32.at(0), 0.5f, 1e-6f);
  }
}

// A negative step is rejected on the host, as the CPU kernel does.
TEST(VulkanOptimizer, AdamWBadStep) {
  OptCase c;
  int p = c.in("p", randn({5}, 80));
  int g = c.in("g", randn({5}, 81));
  int m = c.in("m", randn({5}, 82));
  int v = c.in("v", floats({5}, {0, 0, 0, 0, 0}));
  int lr = c.in("lr", scalar(1e-3f), std::vector<int64_t>{});
  int st = c.in("step", ints({}, {-1}), std::vector<int64_t>{});
  int hps = c.in("hparams",
                 floats({9}, {1e-3f, 1e-4f, 2, 50, 0.9f, 0.999f, 1e-8f, 0, 0}));
  int p2 = c.b.alias(p, {5}), m2 = c.b.alias(m, {5}), v2 = c.b.alias(v, {5});
  c.b.kernel("adamw", {p, g, m, v, lr, -1, st, hps}, {p2, m2, v2},
             {{"decay", false}});
  c.b.output("p'", p2, 0);
  c.b.output("m'", m2, 2);
  c.b.output("v'", v2, 3);
  std::string msg;
  try {
    VulkanExecutor vk(vulkanArtifactOf(c.b), testVulkanOptions());
    std::map<std::string, TensorView> views;
    for (auto &kv : c.bufs)
      views[kv.first] = kv.second.view();
    vk.run(c.b.name, views);
  } catch (const ExecutorError &e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("kernels[0] (adamw): adamw: step -1 is negative"),
            std::string::npos)
      << msg;
}
