//===- CollectiveTest.cpp - all_reduce in the CPU executor ----------------===//
//
// The executor's side of data parallelism with a recording stand-in for the
// process group: which bytes each all_reduce hands over, that a kernel
// touching them waits for the reduction, that a deferred micro-batch skips
// it, and what the artifact validator refuses.
//
//===----------------------------------------------------------------------===//
#include "Builder.h"

#include "runtime/collective/Collective.h"

#include <gtest/gtest.h>

using namespace gpt;
using namespace gpt::test;

namespace {

/// Two fake ranks: the other rank's values are `peer` times ours, so a mean
/// multiplies by (1 + peer) / 2. Records the calls in order.
class TwoRanks : public collective::Collective {
public:
  float peer = 3.0f;
  std::vector<std::string> calls;
  std::vector<std::vector<collective::Span>> buckets;

  int rank() const override { return 0; }
  int worldSize() const override { return 2; }
  int localRank() const override { return 0; }
  std::string description() const override { return "two fake ranks"; }
  void startAllReduce(const std::vector<collective::Span> &spans,
                      collective::Reduction r) override {
    calls.push_back(r == collective::Reduction::Mean ? "start mean"
                                                     : "start sum");
    buckets.push_back(spans);
    open_ = spans;
    mean_ = r == collective::Reduction::Mean;
  }
  void progress() override { calls.push_back("progress"); }
  void waitAll() override {
    if (open_.empty())
      return;
    calls.push_back("wait");
    const float f = mean_ ? (1 + peer) / 2 : 1 + peer;
    for (const collective::Span &s : open_)
      for (std::size_t i = 0; i < s.count; ++i)
        s.data[i] *= f;
    open_.clear();
  }
  bool pending() const override { return !open_.empty(); }
  void allReduce(double *, std::size_t, collective::Reduction) override {}
  void broadcast(void *, std::size_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(const std::string &why) override {
    throw std::runtime_error(why);
  }

private:
  std::vector<collective::Span> open_;
  bool mean_ = false;
};

json scaleProgram(double factor) {
  return {{"program",
           {{"instructions",
             {{{"op", "scale"}, {"factor", factor}, {"args", {0}}}}},
            {"outputs", {1}}}}};
}

/// a' = 2a, b' = 2b (in place), all_reduce(a', b'), then c = a' * 1 (reads
/// a': must wait), d = 10 (touches nothing reduced).
FunctionBuilder reducingFunction(const char *reduction = "mean",
                                 const char *group = "data") {
  FunctionBuilder b;
  b.name = "train_grad";
  int a = b.input("a", {3}, "f32", "state");
  int bb = b.input("b", {2}, "f32", "state");
  int a2 = b.alias(a, {3}), b2 = b.alias(bb, {2});
  b.kernel("elementwise", {a}, {a2}, scaleProgram(2));
  b.kernel("elementwise", {bb}, {b2}, scaleProgram(2));
  int a3 = b.alias(a2, {3}), b3 = b.alias(b2, {2});
  b.kernel("all_reduce", {a2, b2}, {a3, b3},
           {{"reduction", reduction}, {"group", group}});
  int d = b.temp({1});
  b.kernel("fill", {}, {d}, {{"value", 10.0}});
  int c = b.temp({3});
  b.kernel("elementwise", {a3}, {c}, scaleProgram(1));
  b.output("a", a3, 0);
  b.output("b", b3, 1);
  b.output("c", c);
  b.output("d", d);
  return b;
}

std::map<std::string, TensorView> bind(Buf &a, Buf &b) {
  return {{"a", a.view()}, {"b", b.view()}};
}

} // namespace

TEST(ExecutorCollective, ReducesInPlaceAndWaitsBeforeTheFirstReader) {
  CpuExecutor ex(artifactOf(reducingFunction()), 1);
  TwoRanks ranks;
  ex.setCollective(&ranks);
  Buf a = floats({3}, {1, 2, 3}), b = floats({2}, {4, 5});
  auto out = ex.run("train_grad", bind(a, b));
  // One bucket: a and b, in place in the caller's buffers.
  ASSERT_EQ(ranks.buckets.size(), 1u);
  ASSERT_EQ(ranks.buckets[0].size(), 2u);
  EXPECT_EQ(ranks.buckets[0][0].data, a.f.data());
  EXPECT_EQ(ranks.buckets[0][0].count, 3u);
  EXPECT_EQ(ranks.buckets[0][1].data, b.f.data());
  EXPECT_EQ(ranks.buckets[0][1].count, 2u);
  // fill (no reduced bytes) lets it progress; the reader of a waits.
  EXPECT_EQ(ranks.calls,
            (std::vector<std::string>{"start mean", "progress", "wait"}));
  // mean of 2x and 3 * 2x = 4x.
  EXPECT_EQ(a.f, (std::vector<float>{4, 8, 12}));
  EXPECT_EQ(b.f, (std::vector<float>{16, 20}));
  EXPECT_EQ(out["c"].f32, (std::vector<float>{4, 8, 12}));
  EXPECT_EQ(out["d"].f32, (std::vector<float>{10}));
}

TEST(ExecutorCollective, SumReduction) {
  CpuExecutor ex(artifactOf(reducingFunction("sum")), 1);
  TwoRanks ranks;
  ex.setCollective(&ranks);
  Buf a = floats({3}, {1, 2, 3}), b = floats({2}, {4, 5});
  ex.run("train_grad", bind(a, b));
  EXPECT_EQ(ranks.calls.front(), "start sum");
  EXPECT_EQ(a.f, (std::vector<float>{8, 16, 24}));
}

TEST(ExecutorCollective, DeferredMicroBatchAndSingleProcessSkipIt) {
  CpuExecutor ex(artifactOf(reducingFunction()), 1);
  // No group: the identity.
  Buf a = floats({3}, {1, 2, 3}), b = floats({2}, {4, 5});
  ex.run("train_grad", bind(a, b));
  EXPECT_EQ(a.f, (std::vector<float>{2, 4, 6}));
  // A group, but this micro-batch defers its reduction.
  TwoRanks ranks;
  ex.setCollective(&ranks);
  ex.setCollectivesEnabled(false);
  ex.run("train_grad", bind(a, b));
  EXPECT_TRUE(ranks.calls.empty());
  EXPECT_EQ(a.f, (std::vector<float>{4, 8, 12}));
  // The last micro-batch reduces the accumulated values.
  ex.setCollectivesEnabled(true);
  ex.run("train_grad", bind(a, b));
  EXPECT_EQ(a.f, (std::vector<float>{16, 32, 48}));
}

TEST(ExecutorCollective, UnknownGroupIsAnError) {
  CpuExecutor ex(artifactOf(reducingFunction("mean", "tensor")), 1);
  Buf a = floats({3}, {1, 2, 3}), b = floats({2}, {4, 5});
  try {
    ex.run("train_grad", bind(a, b));
    FAIL() << "no error";
  } catch (const ExecutorError &e) {
    EXPECT_NE(std::string(e.what()).find("unknown process group 'tensor'"),
              std::string::npos)
        << e.what();
  }
}

TEST(ExecutorCollective, ValidatorRefusesWhatCannotReduceInPlace) {
  auto refused = [](const FunctionBuilder &b, const std::string &needle) {
    try {
      artifactOf(b);
    } catch (const ArtifactError &e) {
      return std::string(e.what()).find(needle) != std::string::npos
                 ? ::testing::AssertionSuccess()
                 : ::testing::AssertionFailure() << e.what();
    }
    return ::testing::AssertionFailure() << "accepted";
  };
  EXPECT_TRUE(refused(reducingFunction("max"),
                      "expected \"sum\" or \"mean\", got \"max\""));
  {
    // The result in an arena instead of the operand's memory.
    FunctionBuilder b;
    int a = b.input("a", {3}, "f32", "state");
    int t = b.temp({3});
    b.kernel("all_reduce", {a}, {t},
             {{"reduction", "mean"}, {"group", "data"}});
    b.output("t", t);
    EXPECT_TRUE(refused(b, "all_reduce output must be an alias of input 0"));
  }
  {
    FunctionBuilder b;
    int a = b.input("a", {-1, 3}, "f32", "state");
    int a2 = b.alias(a, {-1, 3});
    b.kernel("all_reduce", {a}, {a2},
             {{"reduction", "mean"}, {"group", "data"}});
    b.output("a", a2, 0);
    EXPECT_TRUE(refused(b, "all_reduce reduces static shapes only"));
  }
  {
    FunctionBuilder b;
    int a = b.input("a", {3}, "f32", "state");
    int a2 = b.alias(a, {3});
    b.kernel("all_reduce", {a}, {a2}, {{"reduction", "mean"}});
    b.output("a", a2, 0);
    EXPECT_TRUE(refused(b, "missing attribute 'group'"));
  }
}
