//===- MalformedTest.cpp --------------------------------------------------===//
//
// Untrusted files: every malformed GGUF or safetensors file ends in a typed
// error that names the key or tensor, never a crash, a huge allocation or an
// out-of-bounds read (the ASan build and the fuzzers check the last two).
#include "TestModels.h"

#include "runtime/interop/Gguf.h"

#include <chrono>

using namespace itest;
using namespace gpt::interop;

namespace {

/// Hand-assembled GGUF bytes, so fields can hold any value.
struct Raw {
  std::string b;
  Raw &u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
      b.push_back(static_cast<char>(v >> (8 * i)));
    return *this;
  }
  Raw &u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i)
      b.push_back(static_cast<char>(v >> (8 * i)));
    return *this;
  }
  Raw &str(const std::string &s) {
    u64(s.size());
    b += s;
    return *this;
  }
  Raw &header(std::uint64_t tensors, std::uint64_t kvs,
              std::uint32_t version = 3) {
    b += "GGUF";
    return u32(version).u64(tensors).u64(kvs);
  }
  Raw &pad(std::size_t a = 32) {
    b.resize((b.size() + a - 1) / a * a, '\0');
    return *this;
  }
};

std::string ggufError(const std::string &bytes) {
  try {
    decodeGguf(bytes, "f.gguf");
  } catch (const GgufError &e) {
    return e.what();
  }
  return "";
}

#define EXPECT_GGUF_ERROR(bytes, text)                                         \
  do {                                                                         \
    std::string e_ = ggufError(bytes);                                         \
    EXPECT_NE(e_.find(text), std::string::npos)                                \
        << "error: '" << e_ << "' lacks '" << text << "'";                     \
    EXPECT_EQ(e_.rfind("f.gguf: ", 0), 0u) << e_;                              \
  } while (0)

std::string validModelGguf() {
  ModelConfig c = tinyConfig(true);
  return encodeGguf(gpt2ToGguf(
      importHfGpt2(writeHfCheckpoint("mal_src", c, randomParams(c, 30))),
      GgufDType::F16, "tiny"));
}

} // namespace

TEST(MalformedGguf, EveryTruncationIsAnError) {
  std::string good = validModelGguf();
  ASSERT_NO_THROW(decodeGguf(good, "f.gguf"));
  // Every prefix up to the data section, then a sample of the rest.
  std::size_t step = 1;
  for (std::size_t n = 0; n < good.size(); n += step) {
    if (n > 20000)
      step = 97;
    std::string e = ggufError(good.substr(0, n));
    ASSERT_FALSE(e.empty()) << "prefix of " << n << " bytes accepted";
  }
}

TEST(MalformedGguf, HeaderFields) {
  EXPECT_GGUF_ERROR("", "magic");
  EXPECT_GGUF_ERROR("GGML\3\0\0\0", "bad magic");
  EXPECT_GGUF_ERROR(Raw().header(0, 0, 1).b, "unsupported GGUF version 1");
  EXPECT_GGUF_ERROR(Raw().header(0, 0, 4).b, "unsupported GGUF version 4");
  EXPECT_GGUF_ERROR(Raw().header(0xffffffffffffull, 0).b,
                    "absurd tensor count");
  EXPECT_GGUF_ERROR(Raw().header(0, 1ull << 60).b, "absurd metadata count");
  EXPECT_NO_THROW(decodeGguf(Raw().header(0, 0).b, "f.gguf"));
}

TEST(MalformedGguf, MetadataValues) {
  EXPECT_GGUF_ERROR(Raw().header(0, 1).u64(1ull << 62).b + std::string(20, 'x'),
                    "absurd string length");
  EXPECT_GGUF_ERROR(Raw().header(0, 1).u64(100).b + std::string(20, 'x'),
                    "truncated: metadata key #0");
  EXPECT_GGUF_ERROR(Raw().header(0, 1).str("k").u32(13).u32(0).b,
                    "key 'k': unknown value type 13");
  EXPECT_GGUF_ERROR(Raw().header(0, 1).str("k").u32(8).u64(1ull << 40).b,
                    "value of key 'k'");
  EXPECT_GGUF_ERROR(
      Raw().header(0, 1).str("k").u32(9).u32(4).u64(1ull << 61).u32(1).b,
      "key 'k': absurd array length");
  EXPECT_GGUF_ERROR(
      Raw().header(0, 1).str("k").u32(9).u32(8).u64(1ull << 40).u64(0).b,
      "key 'k': absurd array length");
  EXPECT_GGUF_ERROR(
      Raw().header(0, 1).str("k").u32(9).u32(9).u64(1).u32(4).u64(1).u32(1).b,
      "key 'k': nested arrays");
  EXPECT_GGUF_ERROR(Raw().header(0, 1).str("k").u32(9).u32(20).u64(0).b,
                    "key 'k': unknown array element type 20");
  EXPECT_GGUF_ERROR(Raw().header(0, 1).str("k").u32(7).b + "\x02",
                    "bool value 2");
  EXPECT_GGUF_ERROR(
      Raw().header(0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2).b,
      "duplicate metadata key 'k'");
  EXPECT_GGUF_ERROR(
      Raw().header(0, 1).str("general.alignment").u32(4).u32(48).b,
      "general.alignment 48 is not a power of two");
  EXPECT_GGUF_ERROR(
      Raw().header(0, 1).str("general.alignment").u32(8).str("32").b,
      "general.alignment must be a uint32");
}

TEST(MalformedGguf, TensorInfos) {
  auto tensor = [](Raw r, const std::string &name,
                   std::vector<std::uint64_t> ne, std::uint32_t type,
                   std::uint64_t offset) {
    r.str(name).u32(static_cast<std::uint32_t>(ne.size()));
    for (auto d : ne)
      r.u64(d);
    return r.u32(type).u64(offset);
  };
  std::string data(64, '\0');
  EXPECT_GGUF_ERROR(
      tensor(Raw().header(1, 0), "w", {1, 1, 1, 1, 1}, 0, 0).pad().b + data,
      "tensor 'w': 5 dimensions");
  EXPECT_GGUF_ERROR(tensor(Raw().header(1, 0), "w", {4}, 99, 0).pad().b + data,
                    "tensor 'w': unknown ggml type 99");
  EXPECT_GGUF_ERROR(tensor(Raw().header(1, 0), "w", {4}, 0, 4).pad().b + data,
                    "tensor 'w': offset 4 is not a multiple");
  EXPECT_GGUF_ERROR(tensor(Raw().header(1, 0), "w", {4}, 0, 64).pad().b + data,
                    "tensor 'w': data");
  EXPECT_GGUF_ERROR(
      tensor(Raw().header(1, 0), "w", {1ull << 40, 1ull << 40}, 0, 0).pad().b +
          data,
      "tensor 'w'");
  EXPECT_GGUF_ERROR(
      tensor(Raw().header(1, 0), "w", {1ull << 63}, 0, 0).pad().b + data,
      "tensor 'w': dimension 0 is negative");
  EXPECT_GGUF_ERROR(tensor(Raw().header(1, 0), "w", {33}, 8, 0).pad().b + data,
                    "tensor 'w': ne[0] = 33 is not a multiple of the Q8_0");
  EXPECT_GGUF_ERROR(
      tensor(tensor(Raw().header(2, 0), "w", {8}, 0, 0), "v", {8}, 0, 0)
              .pad()
              .b +
          data,
      "tensor 'v' overlaps tensor 'w'");
  EXPECT_GGUF_ERROR(
      tensor(tensor(Raw().header(2, 0), "w", {8}, 0, 0), "w", {8}, 0, 32)
              .pad()
              .b +
          data,
      "duplicate tensor name 'w'");
  // Data section missing entirely.
  EXPECT_GGUF_ERROR(tensor(Raw().header(1, 0), "w", {8}, 0, 0).b, "truncated");
  // Valid: both tensors in range, padding after the last is fine.
  EXPECT_NO_THROW(decodeGguf(
      tensor(tensor(Raw().header(2, 0), "w", {8}, 0, 0), "v", {8}, 0, 32)
              .pad()
              .b +
          data,
      "f.gguf"));
}

namespace {
GgufFile modelFile() { return decodeGguf(validModelGguf(), "f.gguf"); }

std::string importError(const GgufFile &f) {
  try {
    gpt2FromGguf(decodeGguf(encodeGguf(f), "f.gguf"), "f.gguf");
  } catch (const InteropError &e) {
    return e.what();
  }
  return "";
}

std::string importErrorOf(const GgufFile &f) {
  try {
    gpt2FromGguf(f, "f.gguf");
  } catch (const InteropError &e) {
    return e.what();
  }
  return "";
}

GgufTensor &tensorNamed(GgufFile &f, const std::string &n) {
  for (auto &t : f.tensors)
    if (t.name == n)
      return t;
  throw std::runtime_error("no tensor " + n);
}
} // namespace

#define EXPECT_IMPORT_ERROR(file, text)                                        \
  do {                                                                         \
    std::string e_ = importError(file);                                        \
    EXPECT_NE(e_.find(text), std::string::npos)                                \
        << "error: '" << e_ << "' lacks '" << text << "'";                     \
  } while (0)

TEST(MalformedGgufModel, SemanticErrorsNameTheKeyOrTensor) {
  {
    GgufFile f = modelFile();
    f.set("general.architecture", GgufValue::str("llama"));
    EXPECT_IMPORT_ERROR(f, "general.architecture is 'llama'");
  }
  {
    GgufFile f = modelFile();
    f.set("gpt2.block_count", GgufValue::str("2"));
    EXPECT_IMPORT_ERROR(f, "key 'gpt2.block_count' is a string");
  }
  {
    GgufFile f = modelFile();
    f.set("gpt2.block_count", GgufValue::u32(3));
    EXPECT_IMPORT_ERROR(f, "missing tensor 'blk.2.attn_norm.weight'");
  }
  {
    GgufFile f = modelFile();
    f.set("gpt2.embedding_length", GgufValue::u32(0));
    EXPECT_IMPORT_ERROR(f, "gpt2.embedding_length");
  }
  {
    GgufFile f = modelFile();
    f.set("gpt2.attention.head_count", GgufValue::u32(5));
    EXPECT_IMPORT_ERROR(f, "n_head");
  }
  {
    GgufFile f = modelFile();
    GgufTensor &t = tensorNamed(f, "blk.1.ffn_up.weight");
    std::swap(t.ne[0], t.ne[1]);
    EXPECT_IMPORT_ERROR(f, "tensor 'blk.1.ffn_up.weight' has ne [64, 16]");
  }
  {
    GgufFile f = modelFile();
    GgufTensor &t = tensorNamed(f, "blk.0.ffn_down.weight");
    t.type = GgmlType::Q8_0;
    t.data.assign(t.byteSize(), 0);
    EXPECT_IMPORT_ERROR(f, "tensor 'blk.0.ffn_down.weight' has type Q8_0");
  }
  {
    GgufFile f = modelFile();
    GgufTensor extra = f.tensors.back();
    extra.name = "blk.0.attn_q.weight";
    f.tensors.push_back(extra);
    EXPECT_IMPORT_ERROR(f, "unexpected tensor 'blk.0.attn_q.weight'");
  }
  {
    GgufFile f = modelFile();
    auto v = f.find("tokenizer.ggml.tokens")->strings;
    v.pop_back();
    f.set("tokenizer.ggml.tokens", GgufValue::stringArray(v));
    EXPECT_IMPORT_ERROR(f, "tokenizer.ggml.token_type");
  }
  {
    GgufFile f = modelFile();
    auto v = f.find("tokenizer.ggml.tokens")->strings;
    v.pop_back();
    f.set("tokenizer.ggml.tokens", GgufValue::stringArray(v));
    f.metadata.erase(std::remove_if(f.metadata.begin(), f.metadata.end(),
                                    [](const auto &kv) {
                                      return kv.first ==
                                             "tokenizer.ggml.token_type";
                                    }),
                     f.metadata.end());
    EXPECT_IMPORT_ERROR(f, "tensor 'token_embd.weight' has ne [16, 264], "
                           "expected [16, 263]");
  }
  {
    GgufFile f = modelFile();
    auto v = f.find("tokenizer.ggml.merges")->strings;
    v[2] = "nospace";
    f.set("tokenizer.ggml.merges", GgufValue::stringArray(v));
    EXPECT_IMPORT_ERROR(f, "tokenizer.ggml.merges[2] is not 'left right'");
  }
  {
    GgufFile f = modelFile();
    auto v = f.find("tokenizer.ggml.tokens")->strings;
    v[5] = "\x01"; // not in GPT-2's byte-level alphabet
    f.set("tokenizer.ggml.tokens", GgufValue::stringArray(v));
    EXPECT_IMPORT_ERROR(f, "tokenizer.ggml.tokens[5] is not GPT-2 byte-level");
  }
  {
    GgufFile f = modelFile();
    f.set("tokenizer.ggml.pre", GgufValue::str("llama3"));
    EXPECT_IMPORT_ERROR(f, "tokenizer.ggml.pre is 'llama3'");
  }
  {
    GgufFile f = modelFile();
    auto types = f.find("tokenizer.ggml.token_type")->ints;
    types[3] = 3; // a control token among the ordinary ones
    std::vector<std::int32_t> t32(types.begin(), types.end());
    f.set("tokenizer.ggml.token_type", GgufValue::int32Array(t32));
    EXPECT_IMPORT_ERROR(f, "tokenizer.ggml.tokens[4]");
  }
}

namespace {
std::string stError(const std::string &bytes) {
  try {
    gpt::io::decodeSafetensors(bytes, "f.safetensors");
  } catch (const gpt::io::SafetensorsError &e) {
    return e.what();
  }
  return "";
}
std::string stFile(const std::string &json, const std::string &data) {
  std::string b;
  for (int i = 0; i < 8; ++i)
    b.push_back(static_cast<char>(json.size() >> (8 * i)));
  return b + json + data;
}
} // namespace

TEST(MalformedSafetensors, EveryTruncationIsAnError) {
  ModelConfig c = tinyConfig(true);
  gpt::io::SafetensorsFile f;
  f.tensors = randomParams(c, 31);
  std::string good = gpt::io::encodeSafetensors(f);
  for (std::size_t n = 0; n < good.size(); n += (n < 4000 ? 1 : 61))
    ASSERT_FALSE(stError(good.substr(0, n)).empty()) << n;
}

TEST(MalformedSafetensors, ErrorsNameTheTensor) {
  auto has = [](const std::string &bytes, const std::string &text) {
    std::string e = stError(bytes);
    EXPECT_NE(e.find(text), std::string::npos) << e;
  };
  has(std::string("\xff\xff\xff\xff\xff\xff\xff\xff{}", 10),
      "exceeds the limit");
  has(stFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             std::string(4, '\0')),
      "tensor 'w': data_offsets end 8 is past the end");
  has(stFile("{\"w\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             std::string(8, '\0')),
      "tensor 'w': unknown dtype 'Q4'");
  has(stFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
             std::string(8, '\0')),
      "tensor 'w': 8 data bytes do not match");
  has(stFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,"
             "4294967296],\"data_offsets\":[0,8]}}",
             std::string(8, '\0')),
      "tensor 'w': shape is too large");
  has(stFile(
          "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}",
          std::string(8, '\0')),
      "tensor 'w': shape entries");
  has(stFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
             std::string(12, '\0')),
      "overlaps");
  has(stFile("{\"w\":1,\"w\":2}", ""), "duplicate tensor name 'w'");
  has(stFile("[1]", ""), "not a JSON object");
  has(stFile("{\"a\":" + std::string(100000, '['), ""), "not valid JSON");
}

TEST(Safetensors, FilesWeWriteFollowTheReferenceLayout) {
  // The rules other readers (the Rust crate, safetensors.torch, candle)
  // enforce: u64 LE header length, a JSON object starting with '{', header
  // padded with spaces to 8 bytes so the data is aligned, upper-case dtype
  // names, data_offsets relative to the data, sorted, contiguous from 0 to
  // the end of the file, __metadata__ a string -> string map.
  ModelConfig c = tinyConfig(false);
  gpt::io::SafetensorsFile f;
  f.tensors = randomParams(c, 32);
  f.metadata = {{"format", "pt"}, {"step", "0"}};
  std::string b = gpt::io::encodeSafetensors(f);
  std::uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  ASSERT_LE(8 + n, b.size());
  EXPECT_EQ(n % 8, 0u);
  std::string header = b.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  auto j = nlohmann::json::parse(header);
  EXPECT_EQ(j["__metadata__"]["format"], "pt");
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__")
      continue;
    EXPECT_EQ(it.value()["dtype"], "F32");
    ranges.emplace_back(it.value()["data_offsets"][0].get<std::uint64_t>(),
                        it.value()["data_offsets"][1].get<std::uint64_t>());
  }
  std::sort(ranges.begin(), ranges.end());
  std::uint64_t pos = 0;
  for (auto [s, e] : ranges) {
    EXPECT_EQ(s, pos);
    pos = e;
  }
  EXPECT_EQ(8 + n + pos, b.size());
}

TEST(MalformedGguf, ManyKeysAndTensorsStayCheap) {
  // Duplicate checks must not be quadratic: 100k keys and 100k tensors.
  const int n = 100000;
  Raw r;
  r.header(n, n);
  for (int i = 0; i < n; ++i)
    r.str("k" + std::to_string(i)).u32(4).u32(i);
  for (int i = 0; i < n; ++i)
    r.str("t" + std::to_string(i)).u32(1).u64(0).u32(0).u64(0);
  r.pad();
  auto start = std::chrono::steady_clock::now();
  GgufFile f = decodeGguf(r.b, "f.gguf");
  double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_EQ(f.tensors.size(), static_cast<std::size_t>(n));
  EXPECT_LT(s, 10.0);
  EXPECT_NE(importErrorOf(f).find("missing key"), std::string::npos);
}
