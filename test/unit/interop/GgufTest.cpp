//===- GgufTest.cpp -------------------------------------------------------===//
//
// The GGUF container: every value type and tensor round-trips, the byte
// layout matches the spec, and the half-precision conversions are exact.
#include "runtime/interop/Gguf.h"
#include "runtime/interop/Half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace gpt::interop;

namespace {

GgufFile sampleFile() {
  GgufFile f;
  f.set("general.architecture", GgufValue::str("gpt2"));
  f.set("a.u32", GgufValue::u32(4000000000u));
  f.set("a.i32", GgufValue::i32(-7));
  f.set("a.f32", GgufValue::f32(0.25f));
  f.set("a.bool", GgufValue::boolean(true));
  GgufValue u8;
  u8.type = GgufType::UInt8;
  u8.i = 200;
  f.set("a.u8", u8);
  GgufValue i64;
  i64.type = GgufType::Int64;
  i64.i = -1234567890123ll;
  f.set("a.i64", i64);
  GgufValue f64;
  f64.type = GgufType::Float64;
  f64.f = 1.0 / 3.0;
  f.set("a.f64", f64);
  f.set("a.strings", GgufValue::stringArray({"x", "", "Ġhello"}));
  f.set("a.ints", GgufValue::int32Array({1, -2, 3}));
  GgufValue fa;
  fa.type = GgufType::Array;
  fa.elemType = GgufType::Float32;
  fa.floats = {1.5, -2.0};
  f.set("a.floats", fa);
  GgufTensor t;
  t.name = "m";
  t.ne = {3, 2};
  t.type = GgmlType::F32;
  float v[6] = {1, 2, 3, 4, 5, 6};
  t.data.assign(reinterpret_cast<std::uint8_t *>(v),
                reinterpret_cast<std::uint8_t *>(v) + 24);
  f.tensors.push_back(t);
  GgufTensor h;
  h.name = "h";
  h.ne = {5};
  h.type = GgmlType::F16;
  h.data.assign(10, 0x3c);
  f.tensors.push_back(h);
  GgufTensor q;
  q.name = "q";
  q.ne = {64, 1};
  q.type = GgmlType::Q8_0; // opaque blocks: 2 x 34 bytes
  q.data.assign(68, 7);
  f.tensors.push_back(q);
  return f;
}

} // namespace

TEST(Gguf, RoundTripsEveryValueTypeAndTensor) {
  GgufFile f = sampleFile();
  std::string bytes = encodeGguf(f);
  GgufFile g = decodeGguf(bytes, "mem");
  EXPECT_EQ(g.version, 3u);
  ASSERT_EQ(g.metadata.size(), f.metadata.size());
  for (std::size_t i = 0; i < f.metadata.size(); ++i) {
    const auto &a = f.metadata[i], &b = g.metadata[i];
    EXPECT_EQ(a.first, b.first);
    EXPECT_EQ(a.second.type, b.second.type) << a.first;
    EXPECT_EQ(a.second.i, b.second.i) << a.first;
    EXPECT_EQ(a.second.s, b.second.s) << a.first;
    EXPECT_EQ(a.second.strings, b.second.strings) << a.first;
    EXPECT_EQ(a.second.ints, b.second.ints) << a.first;
    EXPECT_EQ(a.second.floats, b.second.floats) << a.first;
  }
  EXPECT_FLOAT_EQ(static_cast<float>(g.find("a.f32")->f), 0.25f);
  EXPECT_DOUBLE_EQ(g.find("a.f64")->f, 1.0 / 3.0);
  EXPECT_EQ(static_cast<std::uint32_t>(g.find("a.u32")->i), 4000000000u);
  ASSERT_EQ(g.tensors.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(g.tensors[i].name, f.tensors[i].name);
    EXPECT_EQ(g.tensors[i].ne, f.tensors[i].ne);
    EXPECT_EQ(g.tensors[i].type, f.tensors[i].type);
    EXPECT_EQ(g.tensors[i].data, f.tensors[i].data);
  }
  EXPECT_EQ(encodeGguf(g), bytes); // deterministic
}

TEST(Gguf, ByteLayoutFollowsTheSpec) {
  GgufFile f;
  f.set("k", GgufValue::u32(5));
  GgufTensor t;
  t.name = "t";
  t.ne = {2};
  t.type = GgmlType::F32;
  t.data.assign(8, 1);
  f.tensors.push_back(t);
  f.tensors.push_back(t);
  f.tensors.back().name = "u";
  std::string b = encodeGguf(f);
  ASSERT_EQ(b.substr(0, 4), "GGUF");
  auto u32at = [&](std::size_t o) {
    std::uint32_t v;
    std::memcpy(&v, b.data() + o, 4);
    return v;
  };
  auto u64at = [&](std::size_t o) {
    std::uint64_t v;
    std::memcpy(&v, b.data() + o, 8);
    return v;
  };
  EXPECT_EQ(u32at(4), 3u);  // version
  EXPECT_EQ(u64at(8), 2u);  // tensors
  EXPECT_EQ(u64at(16), 1u); // kv
  EXPECT_EQ(u64at(24), 1u); // key length
  EXPECT_EQ(b[32], 'k');
  EXPECT_EQ(u32at(33), 4u); // uint32
  EXPECT_EQ(u32at(37), 5u);
  // tensor info "t": name, n_dims 1, ne 2, type 0, offset 0
  EXPECT_EQ(u64at(41), 1u);
  EXPECT_EQ(u32at(50), 1u);
  EXPECT_EQ(u64at(54), 2u);
  EXPECT_EQ(u32at(62), 0u);
  EXPECT_EQ(u64at(66), 0u);
  // "u" starts at the next 32-byte boundary of the data section.
  EXPECT_EQ(u64at(74 + 8 + 1 + 4 + 8 + 4), 32u);
  // data section aligned to 32, each tensor padded to 32.
  EXPECT_EQ(b.size(), 128u + 64u);
}

TEST(Gguf, CustomAlignment) {
  GgufFile f = sampleFile();
  f.set("general.alignment", GgufValue::u32(64));
  std::string b = encodeGguf(f);
  GgufFile g = decodeGguf(b, "mem");
  EXPECT_EQ(g.alignment(), 64u);
  EXPECT_EQ(g.tensors[2].data, f.tensors[2].data);
  EXPECT_EQ(b.size() % 64, 0u);
}

TEST(Half, EveryHalfRoundTripsThroughFloat) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    float f = halfToFloat(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(f))));
      continue;
    }
    EXPECT_EQ(floatToHalf(f), h) << h;
  }
}

TEST(Half, RoundsToNearestEven) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00);      // rounds up to infinity
  EXPECT_EQ(floatToHalf(1e-8f), 0x0000);         // underflow
  EXPECT_EQ(floatToHalf(5.9604645e-8f), 0x0001); // smallest subnormal
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1).
  EXPECT_EQ(floatToHalf(1.0f + 1.0f / 2048), 0x3c00);
  EXPECT_EQ(floatToHalf(1.0f + 3.0f / 2048), 0x3c02);
  EXPECT_EQ(floatToHalf(INFINITY), 0x7c00);
  EXPECT_FLOAT_EQ(bf16ToFloat(0x3f80), 1.0f);
}
