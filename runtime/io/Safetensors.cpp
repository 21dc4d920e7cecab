//===- Safetensors.cpp ----------------------------------------------------===//
#include "runtime/io/Safetensors.h"

#include "runtime/io/FileIO.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace gpt::io {

namespace {
struct DTypeInfo {
  DType dtype;
  const char *name;
  std::size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8},   {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},   {DType::I8, "I8", 1},   {DType::U64, "U64", 8},
    {DType::U32, "U32", 4},   {DType::U16, "U16", 2}, {DType::U8, "U8", 1},
    {DType::Bool, "BOOL", 1},
};

[[noreturn]] void bad(const std::string &where, const std::string &msg) {
  throw SafetensorsError(where + ": " + msg);
}
} // namespace

const char *dtypeName(DType d) {
  for (const auto &i : kDTypes)
    if (i.dtype == d)
      return i.name;
  return "?";
}

std::size_t dtypeSize(DType d) {
  for (const auto &i : kDTypes)
    if (i.dtype == d)
      return i.size;
  return 0;
}

std::int64_t Tensor::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape)
    n *= d;
  return n;
}

const float *Tensor::f32() const {
  if (dtype != DType::F32)
    throw SafetensorsError(std::string("tensor is ") + dtypeName(dtype) +
                           ", not F32");
  return reinterpret_cast<const float *>(data.data());
}
float *Tensor::f32() {
  return const_cast<float *>(static_cast<const Tensor *>(this)->f32());
}

Tensor Tensor::fromF32(std::vector<std::int64_t> shape,
                       const std::vector<float> &values) {
  Tensor t;
  t.dtype = DType::F32;
  t.shape = std::move(shape);
  if (t.numel() != static_cast<std::int64_t>(values.size()))
    throw SafetensorsError("fromF32: shape does not match the value count");
  t.data.resize(values.size() * sizeof(float));
  if (!values.empty())
    std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

std::string encodeSafetensors(const SafetensorsFile &file) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!file.metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto &[k, v] : file.metadata)
      meta[k] = v;
    header["__metadata__"] = meta;
  }
  std::uint64_t offset = 0;
  for (const auto &[name, t] : file.tensors) {
    if (name == "__metadata__")
      throw SafetensorsError("a tensor may not be named __metadata__");
    std::uint64_t bytes =
        static_cast<std::uint64_t>(t.numel()) * dtypeSize(t.dtype);
    if (bytes != t.data.size())
      throw SafetensorsError("tensor '" + name +
                             "': data size does not match its shape");
    header[name] = {{"dtype", dtypeName(t.dtype)},
                    {"shape", t.shape},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + json.size() + offset);
  std::uint64_t n = json.size();
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += json;
  for (const auto &[name, t] : file.tensors)
    out.append(reinterpret_cast<const char *>(t.data.data()), t.data.size());
  return out;
}

SafetensorsFile decodeSafetensors(const std::string &bytes,
                                  const std::string &where) {
  if (bytes.size() < 8)
    bad(where, "truncated: shorter than the 8-byte header length");
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[i]))
         << (8 * i);
  if (n > kMaxSafetensorsHeader)
    bad(where, "header length " + std::to_string(n) + " exceeds the limit of " +
                   std::to_string(kMaxSafetensorsHeader) + " bytes");
  if (n > bytes.size() - 8)
    bad(where, "truncated: header length " + std::to_string(n) +
                   " runs past the end of the file (" +
                   std::to_string(bytes.size()) + " bytes)");
  std::string_view text(bytes.data() + 8, n);
  if (text.empty() || text.front() != '{')
    bad(where, "header is not a JSON object");
  nlohmann::json header;
  try {
    std::vector<std::string> topKeys;
    auto cb = [&](int depth, nlohmann::json::parse_event_t ev,
                  nlohmann::json &parsed) {
      if (ev == nlohmann::json::parse_event_t::key && depth == 1)
        topKeys.push_back(parsed.get<std::string>());
      return true;
    };
    header = nlohmann::json::parse(text, cb);
    std::sort(topKeys.begin(), topKeys.end());
    auto dup = std::adjacent_find(topKeys.begin(), topKeys.end());
    if (dup != topKeys.end())
      bad(where, "duplicate tensor name '" + *dup + "'");
  } catch (const nlohmann::json::exception &e) {
    bad(where, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object())
    bad(where, "header is not a JSON object");

  SafetensorsFile out;
  const std::uint64_t dataSize = bytes.size() - 8 - n;
  const char *data = bytes.data() + 8 + n;
  struct Range {
    std::uint64_t begin, end;
    std::string name;
  };
  std::vector<Range> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string &name = it.key();
    const auto &v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object())
        bad(where, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          bad(where, "__metadata__." + m.key() + " is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    std::string at = "tensor '" + name + "'";
    if (!v.is_object())
      bad(where, at + " is not an object");
    for (auto f = v.begin(); f != v.end(); ++f)
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets")
        bad(where, at + ": unknown field '" + f.key() + "'");
    if (!v.contains("dtype") || !v["dtype"].is_string())
      bad(where, at + ": missing or non-string dtype");
    Tensor t;
    std::string dt = v["dtype"].get<std::string>();
    bool known = false;
    for (const auto &i : kDTypes)
      if (dt == i.name) {
        t.dtype = i.dtype;
        known = true;
      }
    if (!known)
      bad(where, at + ": unknown dtype '" + dt + "'");
    if (!v.contains("shape") || !v["shape"].is_array())
      bad(where, at + ": missing or non-array shape");
    std::uint64_t numel = 1;
    for (const auto &d : v["shape"]) {
      if (!d.is_number_unsigned())
        bad(where, at + ": shape entries must be non-negative integers");
      std::uint64_t dim = d.get<std::uint64_t>();
      if (dim > 0 && numel > std::numeric_limits<std::uint64_t>::max() /
                                 dtypeSize(t.dtype) / dim)
        bad(where, at + ": shape is too large");
      numel *= dim;
      t.shape.push_back(static_cast<std::int64_t>(dim));
    }
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2 ||
        !v["data_offsets"][0].is_number_unsigned() ||
        !v["data_offsets"][1].is_number_unsigned())
      bad(where, at + ": data_offsets must be two non-negative integers");
    std::uint64_t b = v["data_offsets"][0].get<std::uint64_t>();
    std::uint64_t e = v["data_offsets"][1].get<std::uint64_t>();
    if (b > e)
      bad(where, at + ": data_offsets begin " + std::to_string(b) +
                     " is after end " + std::to_string(e));
    if (e > dataSize)
      bad(where, at + ": data_offsets end " + std::to_string(e) +
                     " is past the end of the data (" +
                     std::to_string(dataSize) + " bytes)");
    std::uint64_t want = numel * dtypeSize(t.dtype);
    if (e - b != want)
      bad(where, at + ": " + std::to_string(e - b) +
                     " data bytes do not match shape and dtype (" +
                     std::to_string(want) + " bytes)");
    t.data.assign(data + b, data + e);
    ranges.push_back({b, e, name});
    out.tensors.emplace(name, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range &a, const Range &b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t pos = 0;
  for (const Range &r : ranges) {
    if (r.begin < pos)
      bad(where, "tensor '" + r.name + "' overlaps another tensor");
    if (r.begin > pos)
      bad(where, "hole in the data before tensor '" + r.name + "'");
    pos = r.end;
  }
  if (pos != dataSize)
    bad(where, std::to_string(dataSize - pos) +
                   " trailing bytes after the last tensor");
  return out;
}

void writeSafetensors(const std::filesystem::path &path,
                      const SafetensorsFile &file) {
  writeFileAtomic(path, encodeSafetensors(file));
}

SafetensorsFile readSafetensors(const std::filesystem::path &path) {
  std::string bytes;
  try {
    bytes = readFile(path);
  } catch (const std::runtime_error &e) {
    throw SafetensorsError(e.what());
  }
  return decodeSafetensors(bytes, path.string());
}

} // namespace gpt::io
