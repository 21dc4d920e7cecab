//===- FuzzReplayTest.cpp -------------------------------------------------===//
//
// Replays the fuzzers' seed corpus and every crasher they found
// (test/fuzz/{corpus,crashers}/{gguf,safetensors}) through the same code the
// fuzz targets run: each input must parse or fail with a typed error.
#include "runtime/interop/Gguf.h"
#include "runtime/interop/Gpt2Interop.h"
#include "runtime/io/Safetensors.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> inputs(const std::string &kind) {
  std::vector<fs::path> out;
  for (const char *sub : {"corpus", "crashers"}) {
    fs::path d = fs::path(GPT_FUZZ_DIR) / sub / kind;
    if (!fs::is_directory(d))
      continue;
    for (const auto &e : fs::directory_iterator(d))
      if (e.is_regular_file() && e.path().filename().string()[0] != '.')
        out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string slurp(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace

TEST(FuzzReplay, Gguf) {
  auto files = inputs("gguf");
  EXPECT_FALSE(files.empty()) << "no corpus under " << GPT_FUZZ_DIR;
  for (const auto &f : files) {
    SCOPED_TRACE(f.string());
    std::string bytes = slurp(f);
    try {
      auto g = gpt::interop::decodeGguf(bytes, f.string());
      gpt::interop::gpt2FromGguf(g, f.string());
    } catch (const gpt::interop::GgufError &) {
    } catch (const gpt::interop::InteropError &) {
    }
  }
}

TEST(FuzzReplay, Safetensors) {
  auto files = inputs("safetensors");
  EXPECT_FALSE(files.empty()) << "no corpus under " << GPT_FUZZ_DIR;
  for (const auto &f : files) {
    SCOPED_TRACE(f.string());
    try {
      gpt::io::decodeSafetensors(slurp(f), f.string());
    } catch (const gpt::io::SafetensorsError &) {
    }
  }
}
