//===- ArtifactCacheTest.cpp ----------------------------------------------===//
#include "runtime/io/ArtifactCache.h"
#include "runtime/io/FileIO.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <unistd.h>

using namespace gpt;
using namespace gpt::io;
namespace fs = std::filesystem;

namespace {
// A fake gptc: counts its compilations in a file and writes the config it
// was given as the "artifact".
class ArtifactCacheTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("gpt_cache_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fake_ = dir_ / "gptc";
    writeFileAtomic(fake_,
                    "#!/bin/sh\n"
                    "if [ \"$1\" = --version ]; then echo fake 1; exit 0; fi\n"
                    "echo x >> \"" +
                        (dir_ / "calls").string() +
                        "\"\n"
                        "if grep -q '\"n_layer\": 13' \"$2\"; then\n"
                        "  echo 'error: no' >&2; exit 1; fi\n"
                        "cp \"$2\" \"$6\"\n");
    fs::permissions(fake_, fs::perms::owner_all);
    ::setenv("GPT_GPTC", fake_.c_str(), 1);
    ::setenv("XDG_CACHE_HOME", (dir_ / "cache").c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("GPT_GPTC");
    ::unsetenv("XDG_CACHE_HOME");
    fs::remove_all(dir_);
  }
  int calls() {
    return fs::exists(dir_ / "calls")
               ? static_cast<int>(readFile(dir_ / "calls").size() / 2)
               : 0;
  }
  fs::path dir_, fake_;
};

ModelConfig config(int layers) {
  ModelConfig c;
  c.vocab_size = 10;
  c.context_length = 8;
  c.n_layer = layers;
  c.n_head = 1;
  c.d_model = 4;
  c.d_ff = 16;
  return c;
}
} // namespace

TEST_F(ArtifactCacheTest, CompilesOnceThenHitsTheCache) {
  EXPECT_EQ(findGptc("/usr/bin/gpt"), fake_);
  EXPECT_EQ(artifactCacheDir(), dir_ / "cache" / "gpt" / "artifacts");
  fs::path a = compileArtifact(config(1), "/usr/bin/gpt");
  EXPECT_EQ(a.parent_path(), artifactCacheDir());
  EXPECT_NE(readFile(a).find("\"n_layer\": 1"), std::string::npos);
  EXPECT_EQ(compileArtifact(config(1), "/usr/bin/gpt"), a);
  EXPECT_EQ(calls(), 1);
  fs::path b = compileArtifact(config(2), "/usr/bin/gpt");
  EXPECT_NE(a, b);
  EXPECT_EQ(calls(), 2);
}

TEST_F(ArtifactCacheTest, CompilerFailureIsReported) {
  try {
    compileArtifact(config(13), "/usr/bin/gpt");
    FAIL();
  } catch (const std::runtime_error &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("error: no"), std::string::npos) << msg;
    EXPECT_NE(msg.find("exit 1"), std::string::npos) << msg;
  }
  // Nothing half-written is left in the cache.
  for (auto &e : fs::directory_iterator(artifactCacheDir()))
    ADD_FAILURE() << "left behind: " << e.path();
}

TEST_F(ArtifactCacheTest, MissingCompilerIsAClearError) {
  ::setenv("GPT_GPTC", (dir_ / "none").c_str(), 1);
  EXPECT_THROW(compileArtifact(config(1), "/usr/bin/gpt"), std::runtime_error);
}

TEST(RunProcess, CapturesOutputAndStatus) {
  std::string out;
  EXPECT_EQ(runProcess({"sh", "-c", "echo hi; echo err >&2; exit 3"}, out), 3);
  EXPECT_EQ(out, "hi\nerr\n");
  EXPECT_EQ(runProcess({"/nonexistent/prog"}, out), 127);
  EXPECT_NE(out.find("cannot run"), std::string::npos);
}
