//===- Safetensors.h --------------------------------------------*- C++ -*-===//
//
// safetensors files (https://github.com/huggingface/safetensors):
//
//   u64 LE  N = length of the JSON header
//   N bytes JSON: {"name": {"dtype": "F32", "shape": [..],
//                  "data_offsets": [begin, end]}, ...,
//                  "__metadata__": {"key": "value", ...}}   (optional)
//                 padded with spaces to a multiple of 8 bytes
//   data    the tensors' bytes, little-endian, row-major; offsets are
//           relative to the start of this buffer
//
// The reader treats files as untrusted: bounded header, JSON syntax, known
// dtypes, shapes whose byte size matches the offsets, offsets inside the
// file, tensors that neither overlap nor leave holes, no duplicate names.
// Every failure is a SafetensorsError naming the file and the tensor/field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace gpt::io {

class SafetensorsError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

enum class DType {
  F64,
  F32,
  F16,
  BF16,
  I64,
  I32,
  I16,
  I8,
  U64,
  U32,
  U16,
  U8,
  Bool
};

const char *dtypeName(DType d);
std::size_t dtypeSize(DType d);

struct Tensor {
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> data; // little-endian element bytes

  std::int64_t numel() const;
  /// Reinterprets data as float (dtype must be F32).
  const float *f32() const;
  float *f32();

  static Tensor fromF32(std::vector<std::int64_t> shape,
                        const std::vector<float> &values);
};

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

/// Largest JSON header accepted (same bound as the reference implementation).
inline constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;

/// Serializes to the file format (tensors in name order).
std::string encodeSafetensors(const SafetensorsFile &file);
/// Parses and validates bytes; `where` (a file name) prefixes messages.
SafetensorsFile decodeSafetensors(const std::string &bytes,
                                  const std::string &where);

/// Writes atomically (temporary file + fsync + rename).
void writeSafetensors(const std::filesystem::path &path,
                      const SafetensorsFile &file);
SafetensorsFile readSafetensors(const std::filesystem::path &path);

} // namespace gpt::io
