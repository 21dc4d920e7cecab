//===- SafetensorsTest.cpp ------------------------------------------------===//
#include "runtime/io/Safetensors.h"
#include "runtime/io/FileIO.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

using namespace gpt::io;
namespace fs = std::filesystem;

namespace {

fs::path tempDir() {
  fs::path d = fs::temp_directory_path() /
               ("gpt_train_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

SafetensorsFile sample() {
  SafetensorsFile f;
  f.tensors["b.weight"] = Tensor::fromF32({2, 3}, {1, 2, 3, 4, 5, 6.5f});
  f.tensors["a.bias"] = Tensor::fromF32({3}, {-1, 0, 1});
  Tensor ids;
  ids.dtype = DType::I32;
  ids.shape = {2};
  ids.data = {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
  f.tensors["ids"] = ids;
  f.tensors["scalar"] = Tensor::fromF32({}, {42});
  f.metadata["step"] = "7";
  f.metadata["format"] = "pt";
  return f;
}

// Builds a file from a header JSON text and a data section.
std::string rawFile(const std::string &header, const std::string &data) {
  std::string out(8, '\0');
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

void expectError(const std::string &bytes, const std::string &needle) {
  try {
    decodeSafetensors(bytes, "bad.safetensors");
    FAIL() << "accepted a malformed file (wanted: " << needle << ")";
  } catch (const SafetensorsError &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

} // namespace

TEST(Safetensors, RoundTrip) {
  SafetensorsFile f = sample();
  std::string bytes = encodeSafetensors(f);
  SafetensorsFile g = decodeSafetensors(bytes, "mem");
  ASSERT_EQ(g.tensors.size(), f.tensors.size());
  for (const auto &[name, t] : f.tensors) {
    const Tensor &u = g.tensors.at(name);
    EXPECT_EQ(u.dtype, t.dtype) << name;
    EXPECT_EQ(u.shape, t.shape) << name;
    EXPECT_EQ(u.data, t.data) << name;
  }
  EXPECT_EQ(g.metadata, f.metadata);
  EXPECT_EQ(encodeSafetensors(g), bytes) << "encoding is deterministic";
}

TEST(Safetensors, StandardLayout) {
  std::string bytes = encodeSafetensors(sample());
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8); // little-endian host
  EXPECT_EQ(n % 8, 0u) << "header padded to 8 bytes";
  std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  auto j = nlohmann::json::parse(header); // trailing spaces are fine
  EXPECT_EQ(j["b.weight"]["dtype"], "F32");
  EXPECT_EQ(j["b.weight"]["shape"], nlohmann::json({2, 3}));
  EXPECT_EQ(j["ids"]["dtype"], "I32");
  EXPECT_EQ(j["__metadata__"]["step"], "7");
  // Offsets are relative to the data section and cover it exactly.
  std::uint64_t total = 0;
  for (auto &[k, v] : j.items())
    if (k != "__metadata__")
      total += v["data_offsets"][1].get<std::uint64_t>() -
               v["data_offsets"][0].get<std::uint64_t>();
  EXPECT_EQ(total, bytes.size() - 8 - n);
  // The scalar's value is where the header says.
  auto off = j["scalar"]["data_offsets"][0].get<std::uint64_t>();
  float v;
  std::memcpy(&v, bytes.data() + 8 + n + off, 4);
  EXPECT_EQ(v, 42.0f);
}

TEST(Safetensors, FileRoundTripAndAtomicWrite) {
  fs::path d = tempDir();
  fs::path p = d / "w.safetensors";
  writeSafetensors(p, sample());
  SafetensorsFile g = readSafetensors(p);
  EXPECT_EQ(g.tensors.at("b.weight").f32()[5], 6.5f);
  // No temporary files are left behind.
  int files = 0;
  for (auto &e : fs::directory_iterator(d)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
  fs::remove_all(d);
}

TEST(Safetensors, MissingFileNamesPath) {
  try {
    readSafetensors("/nonexistent/x.safetensors");
    FAIL();
  } catch (const SafetensorsError &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.safetensors"),
              std::string::npos);
  }
}

TEST(Safetensors, Malformed) {
  const std::string four(4, '\0'), eight(8, '\0');
  expectError("abc", "truncated");
  {
    std::string b(8, '\0');
    b[7] = 0x7f; // huge header length
    expectError(b + "{}", "exceeds the limit");
  }
  expectError(rawFile("{}", "").substr(0, 9), "runs past the end");
  expectError(rawFile("[1,2]   ", ""), "not a JSON object");
  expectError(rawFile("{\"a\":", ""), "not valid JSON");
  expectError(
      rawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})",
              eight),
      "do not match shape");
  expectError(
      rawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})",
              eight),
      "past the end of the data");
  expectError(
      rawFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})",
              eight),
      "is after end");
  expectError(
      rawFile(R"({"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}})", four),
      "unknown dtype 'Q4'");
  expectError(
      rawFile(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})",
              four),
      "non-negative");
  expectError(rawFile(R"({"a":{"dtype":"F32","shape":[1]}})", four),
              "data_offsets");
  expectError(
      rawFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
              R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
              four),
      "overlaps");
  expectError(
      rawFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
              eight),
      "hole");
  expectError(
      rawFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
              eight),
      "trailing bytes");
  expectError(
      rawFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
              R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
              four),
      "duplicate tensor name 'a'");
  expectError(rawFile(R"({"__metadata__":{"k":1}})", ""), "__metadata__.k");
  expectError(
      rawFile(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],)"
              R"("data_offsets":[0,4]}})",
              four),
      "too large");
  expectError(rawFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],)"
                      R"("extra":1}})",
                      four),
              "unknown field 'extra'");
}

TEST(Safetensors, EveryTruncationIsAnError) {
  std::string bytes = encodeSafetensors(sample());
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_THROW(decodeSafetensors(bytes.substr(0, n), "t"), SafetensorsError)
        << "prefix of " << n << " bytes";
}

TEST(FileUtil, WriteFileAtomicReplaces) {
  fs::path d = tempDir();
  fs::path p = d / "f.txt";
  writeFileAtomic(p, "one");
  writeFileAtomic(p, "two");
  EXPECT_EQ(readFile(p), "two");
  EXPECT_THROW(writeFileAtomic(d / "missing-dir" / "x", "y"),
               std::runtime_error);
  fs::remove_all(d);
}
