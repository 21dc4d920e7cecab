//===- Gguf.h ---------------------------------------------------*- C++ -*-===//
//
// GGUF files (ggml's model format, read by llama.cpp, ollama, LM Studio):
//
//   "GGUF"  u32 version (2 or 3)  u64 tensor_count  u64 kv_count
//   kv_count x  { string key, u32 value_type, value }
//   tensor_count x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type,
//                    u64 offset }
//   padding to `general.alignment` (default 32)
//   data: each tensor at data_start + offset (a multiple of the alignment)
//
// Strings are u64 length + bytes; arrays are u32 element type + u64 count +
// elements; all little-endian. ne[0] is the innermost (contiguous) dimension,
// so a row-major [rows, cols] matrix has ne = {cols, rows}.
//
// The reader treats files as untrusted: every count, length, dimension and
// offset is checked against the bytes actually present before anything is
// allocated or read, so truncated or hostile files end in a GgufError that
// names the file and the key or tensor at fault, never in a crash, a huge
// allocation or an out-of-bounds read.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gpt::interop {

class GgufError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

enum class GgufType : std::uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};

const char *ggufTypeName(GgufType t);

/// One metadata value. Integers (and bools) live in `i` (a u64 keeps its bit
/// pattern), floats in `f`, strings in `s`; an array has type Array, its
/// element type in `elemType` and its elements in `ints`, `floats` or
/// `strings`. Nested arrays are not supported.
struct GgufValue {
  GgufType type = GgufType::UInt32;
  GgufType elemType = GgufType::UInt8;
  std::int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<std::int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;

  bool isInteger() const;
  std::size_t arraySize() const;

  static GgufValue u32(std::uint32_t v);
  static GgufValue i32(std::int32_t v);
  static GgufValue f32(float v);
  static GgufValue boolean(bool v);
  static GgufValue str(std::string v);
  static GgufValue stringArray(std::vector<std::string> v);
  static GgufValue int32Array(std::vector<std::int32_t> v);
};

/// ggml tensor types (ggml.h's enum ggml_type values).
enum class GgmlType : std::uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

struct GgmlTypeInfo {
  GgmlType type;
  const char *name;
  std::uint64_t blockSize; // elements per block
  std::uint64_t typeSize;  // bytes per block
};

/// The size table entry of a ggml type, or nullptr when unknown.
const GgmlTypeInfo *ggmlTypeInfo(std::uint32_t type);
std::string ggmlTypeName(std::uint32_t type);

struct GgufTensor {
  std::string name;
  std::vector<std::int64_t> ne; // ggml order: ne[0] innermost
  GgmlType type = GgmlType::F32;
  std::vector<std::uint8_t> data;

  std::int64_t numel() const;
  /// Bytes of ne x type (throws GgufError on overflow or bad ne[0]).
  std::uint64_t byteSize() const;
};

inline constexpr std::uint32_t kGgufDefaultAlignment = 32;
/// Bounds for untrusted headers (far above any real model).
inline constexpr std::uint64_t kGgufMaxStringLength = 1ull << 30;
inline constexpr std::uint32_t kGgufMaxDims = 4;

struct GgufFile {
  std::uint32_t version = 3;
  std::vector<std::pair<std::string, GgufValue>> metadata; // in file order
  std::vector<GgufTensor> tensors;                         // in file order

  const GgufValue *find(std::string_view key) const;
  const GgufTensor *findTensor(std::string_view name) const;
  void set(const std::string &key, GgufValue value);
  /// general.alignment, or 32.
  std::uint32_t alignment() const;
};

/// Serializes (version 3, tensors in the given order, each padded to the
/// alignment).
std::string encodeGguf(const GgufFile &file);
/// Parses and validates bytes; `where` (a file name) prefixes messages.
GgufFile decodeGguf(std::string_view bytes, const std::string &where);

void writeGguf(const std::filesystem::path &path, const GgufFile &file);
GgufFile readGguf(const std::filesystem::path &path);

} // namespace gpt::interop
