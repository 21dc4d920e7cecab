//===- ShardTest.cpp ------------------------------------------------------===//
#include "runtime/data/Shard.h"
#include "TempDir.h"
#include "runtime/io/FileIO.h"

#include <functional>
#include <gtest/gtest.h>

namespace gpt::data {
namespace {
using testing::TempDir;

std::string errorOf(const std::filesystem::path &p) {
  try {
    ShardReader r(p);
  } catch (const std::runtime_error &e) {
    return e.what();
  }
  return "";
}

TEST(Shard, RoundTripUint16WithWeights) {
  TempDir dir;
  std::vector<std::uint32_t> tokens = {0, 1, 65535, 42, 7};
  std::vector<std::uint8_t> weights = {0, 1, 1, 0, 1};
  writeShard(dir.path() / "s.bin", tokens, weights, 65536);
  ShardReader r(dir.path() / "s.bin");
  EXPECT_EQ(r.info().tokenBytes, 2u);
  EXPECT_TRUE(r.info().hasWeights);
  ASSERT_EQ(r.size(), 5u);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    EXPECT_EQ(r.token(i), tokens[i]);
    EXPECT_EQ(r.weight(i), weights[i]);
  }
}

TEST(Shard, RoundTripUint32WithoutWeights) {
  TempDir dir;
  std::vector<std::uint32_t> tokens = {100000, 3, 99999};
  writeShard(dir.path() / "s.bin", tokens, {}, 100277);
  ShardReader r(dir.path() / "s.bin");
  EXPECT_EQ(r.info().tokenBytes, 4u);
  EXPECT_FALSE(r.info().hasWeights);
  EXPECT_EQ(r.token(0), 100000u);
  EXPECT_EQ(r.token(2), 99999u);
  EXPECT_EQ(r.weight(1), 1);
}

TEST(Shard, RejectsOutOfRangeTokens) {
  TempDir dir;
  EXPECT_THROW(writeShard(dir.path() / "s.bin", {50259}, {}, 50259),
               std::invalid_argument);
}

class CorruptShard : public ::testing::Test {
protected:
  void SetUp() override {
    path = dir.path() / "s.bin";
    writeShard(path, {1, 2, 3, 4}, {1, 1, 0, 0}, 50259);
    bytes = io::readFile(path);
  }
  std::string corrupt(const std::function<void(std::string &)> &edit) {
    std::string b = bytes;
    edit(b);
    dir.write("bad.bin", b);
    return errorOf(dir.path() / "bad.bin");
  }
  TempDir dir;
  std::filesystem::path path;
  std::string bytes;
};

TEST_F(CorruptShard, GoodShardOpens) { EXPECT_EQ(errorOf(path), ""); }

TEST_F(CorruptShard, BadMagic) {
  std::string e = corrupt([](std::string &b) { b[0] = 'X'; });
  EXPECT_NE(e.find("bad.bin: not a token shard (bad magic)"), std::string::npos)
      << e;
}

TEST_F(CorruptShard, BadVersion) {
  std::string e = corrupt([](std::string &b) { b[8] = 9; });
  EXPECT_NE(e.find("unsupported shard version 9"), std::string::npos) << e;
}

TEST_F(CorruptShard, BadDtype) {
  std::string e = corrupt([](std::string &b) { b[12] = 3; });
  EXPECT_NE(e.find("bad token size 3"), std::string::npos) << e;
}

TEST_F(CorruptShard, Truncated) {
  std::string e = corrupt([](std::string &b) { b.resize(b.size() - 2); });
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  e = corrupt([](std::string &b) { b.resize(10); });
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  e = corrupt([](std::string &b) { b[16] = 100; }); // token count 100
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST_F(CorruptShard, ChecksumCatchesFlippedPayload) {
  std::string e = corrupt([](std::string &b) { b[64] ^= 1; });
  EXPECT_NE(e.find("checksum mismatch"), std::string::npos) << e;
}

TEST_F(CorruptShard, MissingFile) {
  std::string e = errorOf(dir.path() / "nope.bin");
  EXPECT_NE(e.find("nope.bin: cannot open"), std::string::npos) << e;
}

} // namespace
} // namespace gpt::data
