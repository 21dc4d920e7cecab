//===- LoaderTest.cpp -----------------------------------------------------===//
#include "runtime/data/Loader.h"
#include "TempDir.h"
#include "runtime/data/DataError.h"
#include "runtime/data/Prepare.h"

#include <gtest/gtest.h>

namespace gpt::data {
namespace {
using testing::TempDir;

// Two shards of 0..99 and 1000..1049 (weights = token parity).
std::vector<std::filesystem::path> makeShards(const TempDir &dir) {
  std::vector<std::uint32_t> a, b;
  std::vector<std::uint8_t> wa, wb;
  for (std::uint32_t i = 0; i < 100; ++i)
    a.push_back(i), wa.push_back(i % 2);
  for (std::uint32_t i = 1000; i < 1050; ++i)
    b.push_back(i), wb.push_back(i % 2);
  writeShard(dir.path() / "a.bin", a, wa, 2000);
  writeShard(dir.path() / "b.bin", b, wb, 2000);
  return {dir.path() / "a.bin", dir.path() / "b.bin"};
}

bool same(const Batch &x, const Batch &y) {
  return x.inputs == y.inputs && x.targets == y.targets &&
         x.weights == y.weights;
}

TEST(Loader, SequentialWindowsShiftByOne) {
  TempDir dir;
  DataLoader l(makeShards(dir), {2, 8, false, 0});
  // a: (100-1)/8 = 12 windows, b: (50-1)/8 = 6 windows.
  EXPECT_EQ(l.windowsPerEpoch(), 18u);
  Batch b = l.next();
  for (int t = 0; t < 8; ++t) {
    EXPECT_EQ(b.inputs[t], t);
    EXPECT_EQ(b.targets[t], t + 1);
    EXPECT_EQ(b.weights[t], (t + 1) % 2);
    EXPECT_EQ(b.inputs[8 + t], 8 + t);
  }
  for (int i = 0; i < 5; ++i)
    l.next();         // windows 2..11
  Batch c = l.next(); // windows 12, 13: the second shard
  EXPECT_EQ(c.inputs[0], 1000);
  EXPECT_EQ(c.targets[7], 1008);
  EXPECT_EQ(c.inputs[8], 1008);
}

TEST(Loader, ShuffledEpochVisitsEveryWindowOnce) {
  TempDir dir;
  DataLoader l(makeShards(dir), {1, 8, true, 42});
  std::vector<int> firsts;
  for (int i = 0; i < 18; ++i)
    firsts.push_back(l.next().inputs[0]);
  std::vector<int> sorted = firsts;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> want;
  for (int w = 0; w < 12; ++w)
    want.push_back(8 * w);
  for (int w = 0; w < 6; ++w)
    want.push_back(1000 + 8 * w);
  EXPECT_EQ(sorted, want);
  EXPECT_NE(firsts, want); // actually shuffled
  EXPECT_EQ(l.state().epoch, 0u);
  l.next();
  EXPECT_EQ(l.state().epoch, 1u);
}

TEST(Loader, ResumedRunSeesIdenticalBatches) {
  TempDir dir;
  auto shards = makeShards(dir);
  LoaderOptions opts{4, 8, true, 1234};
  DataLoader full(shards, opts);
  std::vector<Batch> expected;
  for (int i = 0; i < 20; ++i) // crosses several epochs (18 windows each)
    expected.push_back(full.next());
  for (int stop : {0, 3, 4, 9, 13}) {
    DataLoader first(shards, opts);
    for (int i = 0; i < stop; ++i)
      ASSERT_TRUE(same(first.next(), expected[i]));
    // Record the state through JSON, as a checkpoint would.
    auto saved = first.state().toJson().dump();
    DataLoader resumed(shards, opts);
    resumed.restore(LoaderState::fromJson(nlohmann::json::parse(saved)));
    for (int i = stop; i < 20; ++i)
      ASSERT_TRUE(same(resumed.next(), expected[i])) << stop << " " << i;
  }
}

TEST(Loader, DifferentSeedsDiffer) {
  TempDir dir;
  auto shards = makeShards(dir);
  DataLoader a(shards, {4, 8, true, 1});
  DataLoader b(shards, {4, 8, true, 2});
  EXPECT_FALSE(same(a.next(), b.next()));
}

TEST(Loader, RestoreRejectsMismatchedState) {
  TempDir dir;
  auto shards = makeShards(dir);
  DataLoader a(shards, {4, 8, true, 1});
  LoaderState s = a.state();
  DataLoader otherSeed(shards, {4, 8, true, 2});
  EXPECT_THROW(otherSeed.restore(s), DataError);
  DataLoader otherT(shards, {4, 16, true, 1});
  EXPECT_THROW(otherT.restore(s), DataError);
  s.cursor = 1000;
  EXPECT_THROW(a.restore(s), DataError);
}

TEST(Loader, TooLittleData) {
  TempDir dir;
  writeShard(dir.path() / "s.bin", {1, 2, 3}, {}, 10);
  EXPECT_THROW(DataLoader({dir.path() / "s.bin"}, {1, 3, false, 0}), DataError);
  DataLoader ok({dir.path() / "s.bin"}, {1, 2, false, 0});
  EXPECT_EQ(ok.windowsPerEpoch(), 1u);
}

// Documents end with 99: [1 2 99] [3 4 5 99] [10..18 99] [6 99], T = 4.
TEST(Loader, PackedWindowsHoldWholeDocuments) {
  TempDir dir;
  std::vector<std::uint32_t> t = {1, 2, 99, 3, 4, 5, 99};
  for (std::uint32_t i = 10; i <= 18; ++i)
    t.push_back(i);
  t.insert(t.end(), {99, 6, 99});
  std::vector<std::uint8_t> w(t.size());
  for (std::size_t i = 0; i < t.size(); ++i)
    w[i] = t[i] == 99 ? 0 : 1;
  writeShard(dir.path() / "d.bin", t, w, 100);
  LoaderOptions o{1, 4, false, 0};
  o.documentEnd = 99;
  DataLoader l({dir.path() / "d.bin"}, o);
  EXPECT_TRUE(l.state().packed);
  // [0,3) [3,7): whole documents (the second does not fit after the
  // first); the long one on the T grid [7,12) [11,16); its tail and the
  // last document together [15,19).
  ASSERT_EQ(l.windowsPerEpoch(), 5u);
  struct Row {
    std::vector<std::int32_t> in, target;
    std::vector<float> weight;
  };
  std::vector<Row> want = {
      {{1, 2, 99, 99}, {2, 99, 99, 99}, {1, 0, 0, 0}},
      {{3, 4, 5, 99}, {4, 5, 99, 99}, {1, 1, 0, 0}},
      {{10, 11, 12, 13}, {11, 12, 13, 14}, {1, 1, 1, 1}},
      {{14, 15, 16, 17}, {15, 16, 17, 18}, {1, 1, 1, 1}},
      {{18, 99, 6, 99}, {99, 6, 99, 99}, {0, 1, 0, 0}},
  };
  for (std::size_t i = 0; i < want.size(); ++i) {
    Batch b = l.next();
    EXPECT_EQ(b.inputs, want[i].in) << "window " << i;
    EXPECT_EQ(b.targets, want[i].target) << "window " << i;
    EXPECT_EQ(b.weights, want[i].weight) << "window " << i;
  }
  // Packing is part of the recorded state.
  DataLoader grid({dir.path() / "d.bin"}, {1, 4, false, 0});
  EXPECT_FALSE(grid.state().packed);
  EXPECT_THROW(grid.restore(l.state()), DataError);
  LoaderState s = LoaderState::fromJson(l.state().toJson());
  EXPECT_TRUE(s.packed);
}

TEST(Loader, FromPreparedChatCarriesWeights) {
  TempDir dir;
  PrepareOptions o;
  o.inputs = {testing::shared("oasst1_zh_chat.jsonl")};
  o.tokenizer = GPT_SHARED_DATA_DIR;
  o.outDir = dir.path() / "out";
  prepareData(o);
  DataLoader l = DataLoader::fromPrepared(o.outDir, "val", {8, 64, true, 3});
  EXPECT_TRUE(l.state().packed); // chat data is packed by conversation
  LoaderOptions grid{8, 64, true, 3};
  grid.packChat = false;
  EXPECT_FALSE(DataLoader::fromPrepared(o.outDir, "val", grid).state().packed);
  float sum = 0;
  for (int i = 0; i < 10; ++i)
    for (float w : l.next().weights)
      sum += w;
  EXPECT_GT(sum, 0);
  EXPECT_LT(sum, 10 * 8 * 64);
  EXPECT_THROW(DataLoader::fromPrepared(o.outDir, "test", {1, 8, true, 0}),
               DataError);
}

} // namespace
} // namespace gpt::data
