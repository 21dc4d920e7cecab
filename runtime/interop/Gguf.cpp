//===- Gguf.cpp -----------------------------------------------------------===//
#include "runtime/interop/Gguf.h"

#include "runtime/io/FileIO.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

namespace gpt::interop {

namespace {

constexpr GgmlTypeInfo kGgmlTypes[] = {
    {GgmlType::F32, "F32", 1, 4},       {GgmlType::F16, "F16", 1, 2},
    {GgmlType::Q4_0, "Q4_0", 32, 18},   {GgmlType::Q4_1, "Q4_1", 32, 20},
    {GgmlType::Q5_0, "Q5_0", 32, 22},   {GgmlType::Q5_1, "Q5_1", 32, 24},
    {GgmlType::Q8_0, "Q8_0", 32, 34},   {GgmlType::Q8_1, "Q8_1", 32, 36},
    {GgmlType::Q2_K, "Q2_K", 256, 84},  {GgmlType::Q3_K, "Q3_K", 256, 110},
    {GgmlType::Q4_K, "Q4_K", 256, 144}, {GgmlType::Q5_K, "Q5_K", 256, 176},
    {GgmlType::Q6_K, "Q6_K", 256, 210}, {GgmlType::Q8_K, "Q8_K", 256, 292},
    {GgmlType::I8, "I8", 1, 1},         {GgmlType::I16, "I16", 1, 2},
    {GgmlType::I32, "I32", 1, 4},       {GgmlType::I64, "I64", 1, 8},
    {GgmlType::F64, "F64", 1, 8},       {GgmlType::BF16, "BF16", 1, 2},
};

/// Fixed size in bytes of a scalar value type; 0 for String and Array.
std::uint64_t scalarSize(GgufType t) {
  switch (t) {
  case GgufType::UInt8:
  case GgufType::Int8:
  case GgufType::Bool:
    return 1;
  case GgufType::UInt16:
  case GgufType::Int16:
    return 2;
  case GgufType::UInt32:
  case GgufType::Int32:
  case GgufType::Float32:
    return 4;
  case GgufType::UInt64:
  case GgufType::Int64:
  case GgufType::Float64:
    return 8;
  default:
    return 0;
  }
}

bool knownValueType(std::uint32_t t) { return t <= 12; }

std::uint64_t alignUp(std::uint64_t x, std::uint64_t a) {
  return (x + a - 1) / a * a;
}

// ---- decoding -------------------------------------------------------------

class Reader {
public:
  Reader(std::string_view bytes, const std::string &where)
      : b_(bytes), where_(where) {}

  [[noreturn]] void fail(const std::string &msg) const {
    throw GgufError(where_ + ": " + msg);
  }
  std::uint64_t pos() const { return pos_; }
  std::uint64_t remaining() const { return b_.size() - pos_; }

  void need(std::uint64_t n, const std::string &what) const {
    if (n > remaining())
      fail("truncated: " + what + " needs " + std::to_string(n) +
           " bytes at offset " + std::to_string(pos_) + ", only " +
           std::to_string(remaining()) + " left");
  }
  std::uint64_t uint(unsigned bytes, const std::string &what) {
    need(bytes, what);
    std::uint64_t v = 0;
    for (unsigned i = 0; i < bytes; ++i)
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(b_[pos_ + i]))
           << (8 * i);
    pos_ += bytes;
    return v;
  }
  std::uint32_t u32(const std::string &what) {
    return static_cast<std::uint32_t>(uint(4, what));
  }
  std::uint64_t u64(const std::string &what) { return uint(8, what); }
  std::string string(const std::string &what) {
    std::uint64_t n = u64(what + " length");
    if (n > kGgufMaxStringLength)
      fail(what + ": absurd string length " + std::to_string(n));
    need(n, what);
    std::string s(b_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::string_view slice(std::uint64_t at, std::uint64_t n) const {
    return b_.substr(at, n);
  }

private:
  std::string_view b_;
  const std::string &where_;
  std::uint64_t pos_ = 0;
};

std::int64_t signExtend(std::uint64_t v, unsigned bytes) {
  if (bytes == 8)
    return static_cast<std::int64_t>(v);
  std::uint64_t sign = 1ull << (8 * bytes - 1);
  return static_cast<std::int64_t>((v ^ sign)) -
         static_cast<std::int64_t>(sign);
}

float f32FromBits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
double f64FromBits(std::uint64_t bits) {
  double f;
  std::memcpy(&f, &bits, 8);
  return f;
}

/// Reads one scalar of type t into v (ints / floats / s).
void readScalar(Reader &r, GgufType t, const std::string &what, std::int64_t &i,
                double &f, std::string *s) {
  switch (t) {
  case GgufType::String:
    *s = r.string(what);
    return;
  case GgufType::Float32:
    f = f32FromBits(r.u32(what));
    return;
  case GgufType::Float64:
    f = f64FromBits(r.u64(what));
    return;
  case GgufType::Bool: {
    std::uint64_t v = r.uint(1, what);
    if (v > 1)
      r.fail(what + ": bool value " + std::to_string(v) + " is not 0 or 1");
    i = static_cast<std::int64_t>(v);
    return;
  }
  case GgufType::Int8:
  case GgufType::Int16:
  case GgufType::Int32:
  case GgufType::Int64: {
    unsigned n = static_cast<unsigned>(scalarSize(t));
    i = signExtend(r.uint(n, what), n);
    return;
  }
  default: {
    unsigned n = static_cast<unsigned>(scalarSize(t));
    i = static_cast<std::int64_t>(r.uint(n, what));
    return;
  }
  }
}

GgufValue readValue(Reader &r, const std::string &key) {
  GgufValue v;
  std::string what = "value of key '" + key + "'";
  std::uint32_t t = r.u32(what + " (type)");
  if (!knownValueType(t))
    r.fail("key '" + key + "': unknown value type " + std::to_string(t));
  v.type = static_cast<GgufType>(t);
  if (v.type != GgufType::Array) {
    readScalar(r, v.type, what, v.i, v.f, &v.s);
    return v;
  }
  std::uint32_t et = r.u32(what + " (array element type)");
  if (!knownValueType(et))
    r.fail("key '" + key + "': unknown array element type " +
           std::to_string(et));
  v.elemType = static_cast<GgufType>(et);
  if (v.elemType == GgufType::Array)
    r.fail("key '" + key + "': nested arrays are not supported");
  std::uint64_t n = r.u64(what + " (array length)");
  // Every element takes at least this many bytes of the file: a count the
  // remaining bytes cannot hold is rejected before anything is allocated.
  std::uint64_t minSize =
      v.elemType == GgufType::String ? 8 : scalarSize(v.elemType);
  if (n > r.remaining() / minSize)
    r.fail("key '" + key + "': absurd array length " + std::to_string(n) +
           " (only " + std::to_string(r.remaining()) + " bytes left)");
  for (std::uint64_t k = 0; k < n; ++k) {
    std::string at = what + "[" + std::to_string(k) + "]";
    std::int64_t i = 0;
    double f = 0;
    std::string s;
    readScalar(r, v.elemType, at, i, f, &s);
    if (v.elemType == GgufType::String)
      v.strings.push_back(std::move(s));
    else if (v.elemType == GgufType::Float32 || v.elemType == GgufType::Float64)
      v.floats.push_back(f);
    else
      v.ints.push_back(i);
  }
  return v;
}

// ---- encoding -------------------------------------------------------------

void putUint(std::string &out, std::uint64_t v, unsigned bytes) {
  for (unsigned i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void putString(std::string &out, const std::string &s) {
  putUint(out, s.size(), 8);
  out += s;
}
void putScalar(std::string &out, GgufType t, std::int64_t i, double f,
               const std::string &s) {
  switch (t) {
  case GgufType::String:
    putString(out, s);
    return;
  case GgufType::Float32: {
    float x = static_cast<float>(f);
    std::uint32_t bits;
    std::memcpy(&bits, &x, 4);
    putUint(out, bits, 4);
    return;
  }
  case GgufType::Float64: {
    std::uint64_t bits;
    std::memcpy(&bits, &f, 8);
    putUint(out, bits, 8);
    return;
  }
  default:
    putUint(out, static_cast<std::uint64_t>(i),
            static_cast<unsigned>(scalarSize(t)));
  }
}

} // namespace

const char *ggufTypeName(GgufType t) {
  static const char *const kNames[] = {
      "uint8", "int8",   "uint16", "int16",  "uint32", "int32",  "float32",
      "bool",  "string", "array",  "uint64", "int64",  "float64"};
  auto i = static_cast<std::uint32_t>(t);
  return i < 13 ? kNames[i] : "?";
}

bool GgufValue::isInteger() const {
  return type != GgufType::Array && type != GgufType::String &&
         type != GgufType::Float32 && type != GgufType::Float64 &&
         type != GgufType::Bool;
}

std::size_t GgufValue::arraySize() const {
  if (type != GgufType::Array)
    return 0;
  return std::max({ints.size(), floats.size(), strings.size()});
}

GgufValue GgufValue::u32(std::uint32_t v) {
  GgufValue x;
  x.type = GgufType::UInt32;
  x.i = v;
  return x;
}
GgufValue GgufValue::i32(std::int32_t v) {
  GgufValue x;
  x.type = GgufType::Int32;
  x.i = v;
  return x;
}
GgufValue GgufValue::f32(float v) {
  GgufValue x;
  x.type = GgufType::Float32;
  x.f = v;
  return x;
}
GgufValue GgufValue::boolean(bool v) {
  GgufValue x;
  x.type = GgufType::Bool;
  x.i = v ? 1 : 0;
  return x;
}
GgufValue GgufValue::str(std::string v) {
  GgufValue x;
  x.type = GgufType::String;
  x.s = std::move(v);
  return x;
}
GgufValue GgufValue::stringArray(std::vector<std::string> v) {
  GgufValue x;
  x.type = GgufType::Array;
  x.elemType = GgufType::String;
  x.strings = std::move(v);
  return x;
}
GgufValue GgufValue::int32Array(std::vector<std::int32_t> v) {
  GgufValue x;
  x.type = GgufType::Array;
  x.elemType = GgufType::Int32;
  x.ints.assign(v.begin(), v.end());
  return x;
}

const GgmlTypeInfo *ggmlTypeInfo(std::uint32_t type) {
  for (const auto &i : kGgmlTypes)
    if (static_cast<std::uint32_t>(i.type) == type)
      return &i;
  return nullptr;
}

std::string ggmlTypeName(std::uint32_t type) {
  const GgmlTypeInfo *i = ggmlTypeInfo(type);
  return i ? i->name : "type " + std::to_string(type);
}

std::int64_t GgufTensor::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : ne)
    n *= d;
  return n;
}

std::uint64_t GgufTensor::byteSize() const {
  const GgmlTypeInfo *info = ggmlTypeInfo(static_cast<std::uint32_t>(type));
  if (!info)
    throw GgufError("tensor '" + name + "': unknown ggml type");
  std::uint64_t n = 1;
  for (std::int64_t d : ne) {
    if (d < 0)
      throw GgufError("tensor '" + name + "': negative dimension");
    auto ud = static_cast<std::uint64_t>(d);
    if (ud > 0 && n > (std::numeric_limits<std::uint64_t>::max() >> 1) / ud)
      throw GgufError("tensor '" + name + "': shape is too large");
    n *= ud;
  }
  if (!ne.empty() && static_cast<std::uint64_t>(ne[0]) % info->blockSize != 0)
    throw GgufError("tensor '" + name + "': ne[0] = " + std::to_string(ne[0]) +
                    " is not a multiple of the " + info->name + " block size " +
                    std::to_string(info->blockSize));
  std::uint64_t blocks = n / info->blockSize;
  if (blocks > std::numeric_limits<std::uint64_t>::max() / info->typeSize)
    throw GgufError("tensor '" + name + "': shape is too large");
  return blocks * info->typeSize;
}

const GgufValue *GgufFile::find(std::string_view key) const {
  for (const auto &kv : metadata)
    if (kv.first == key)
      return &kv.second;
  return nullptr;
}

const GgufTensor *GgufFile::findTensor(std::string_view name) const {
  for (const auto &t : tensors)
    if (t.name == name)
      return &t;
  return nullptr;
}

void GgufFile::set(const std::string &key, GgufValue value) {
  for (auto &kv : metadata)
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  metadata.emplace_back(key, std::move(value));
}

std::uint32_t GgufFile::alignment() const {
  const GgufValue *v = find("general.alignment");
  if (!v)
    return kGgufDefaultAlignment;
  return static_cast<std::uint32_t>(v->i);
}

std::string encodeGguf(const GgufFile &file) {
  std::uint32_t align = file.alignment();
  if (align == 0 || (align & (align - 1)) != 0)
    throw GgufError("general.alignment must be a power of two");
  std::string out = "GGUF";
  putUint(out, 3, 4);
  putUint(out, file.tensors.size(), 8);
  putUint(out, file.metadata.size(), 8);
  for (const auto &[key, v] : file.metadata) {
    putString(out, key);
    putUint(out, static_cast<std::uint32_t>(v.type), 4);
    if (v.type != GgufType::Array) {
      putScalar(out, v.type, v.i, v.f, v.s);
      continue;
    }
    if (v.elemType == GgufType::Array)
      throw GgufError("key '" + key + "': nested arrays are not supported");
    putUint(out, static_cast<std::uint32_t>(v.elemType), 4);
    std::size_t n =
        v.elemType == GgufType::String ? v.strings.size()
        : (v.elemType == GgufType::Float32 || v.elemType == GgufType::Float64)
            ? v.floats.size()
            : v.ints.size();
    putUint(out, n, 8);
    for (std::size_t k = 0; k < n; ++k) {
      if (v.elemType == GgufType::String)
        putString(out, v.strings[k]);
      else if (v.elemType == GgufType::Float32 ||
               v.elemType == GgufType::Float64)
        putScalar(out, v.elemType, 0, v.floats[k], "");
      else
        putScalar(out, v.elemType, v.ints[k], 0, "");
    }
  }
  std::uint64_t offset = 0;
  for (const GgufTensor &t : file.tensors) {
    if (t.byteSize() != t.data.size())
      throw GgufError("tensor '" + t.name +
                      "': data size does not match its shape and type");
    putString(out, t.name);
    putUint(out, t.ne.size(), 4);
    for (std::int64_t d : t.ne)
      putUint(out, static_cast<std::uint64_t>(d), 8);
    putUint(out, static_cast<std::uint32_t>(t.type), 4);
    putUint(out, offset, 8);
    offset = alignUp(offset + t.data.size(), align);
  }
  out.resize(alignUp(out.size(), align), '\0');
  out.reserve(out.size() + offset);
  for (const GgufTensor &t : file.tensors) {
    out.append(reinterpret_cast<const char *>(t.data.data()), t.data.size());
    out.resize(alignUp(out.size(), align), '\0');
  }
  return out;
}

GgufFile decodeGguf(std::string_view bytes, const std::string &where) {
  Reader r(bytes, where);
  r.need(4, "magic");
  if (bytes.substr(0, 4) != "GGUF")
    r.fail("bad magic (not a GGUF file)");
  r.uint(4, "magic");
  GgufFile out;
  out.version = r.u32("version");
  if (out.version != 2 && out.version != 3)
    r.fail("unsupported GGUF version " + std::to_string(out.version) +
           " (supported: 2, 3)");
  std::uint64_t nTensors = r.u64("tensor count");
  std::uint64_t nKv = r.u64("metadata count");
  // Minimum encoded sizes: a key/value is a key length (8), a type (4) and
  // at least one byte; a tensor info is a name length (8), n_dims (4), a
  // type (4) and an offset (8).
  if (nKv > r.remaining() / 13)
    r.fail("absurd metadata count " + std::to_string(nKv) + " for a file of " +
           std::to_string(bytes.size()) + " bytes");
  if (nTensors > r.remaining() / 24)
    r.fail("absurd tensor count " + std::to_string(nTensors) +
           " for a file of " + std::to_string(bytes.size()) + " bytes");

  std::set<std::string> seen; // keys, then tensor names (no quadratic scans)
  for (std::uint64_t k = 0; k < nKv; ++k) {
    std::string key = r.string("metadata key #" + std::to_string(k));
    if (!seen.insert(key).second)
      r.fail("duplicate metadata key '" + key + "'");
    GgufValue v = readValue(r, key);
    out.metadata.emplace_back(std::move(key), std::move(v));
  }

  std::uint64_t align = kGgufDefaultAlignment;
  if (const GgufValue *a = out.find("general.alignment")) {
    if (a->type != GgufType::UInt32)
      r.fail("general.alignment must be a uint32, not " +
             std::string(ggufTypeName(a->type)));
    align = static_cast<std::uint64_t>(a->i);
    if (align == 0 || (align & (align - 1)) != 0)
      r.fail("general.alignment " + std::to_string(align) +
             " is not a power of two");
  }

  struct Info {
    std::uint64_t offset, size;
  };
  std::vector<Info> infos;
  seen.clear();
  for (std::uint64_t k = 0; k < nTensors; ++k) {
    GgufTensor t;
    t.name = r.string("tensor name #" + std::to_string(k));
    std::string at = "tensor '" + t.name + "'";
    if (!seen.insert(t.name).second)
      r.fail("duplicate tensor name '" + t.name + "'");
    std::uint32_t nd = r.u32(at + " n_dims");
    if (nd > kGgufMaxDims)
      r.fail(at + ": " + std::to_string(nd) + " dimensions (at most " +
             std::to_string(kGgufMaxDims) + ")");
    for (std::uint32_t d = 0; d < nd; ++d) {
      std::uint64_t ne = r.u64(at + " ne[" + std::to_string(d) + "]");
      if (ne >
          static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        r.fail(at + ": dimension " + std::to_string(d) + " is negative");
      t.ne.push_back(static_cast<std::int64_t>(ne));
    }
    std::uint32_t type = r.u32(at + " type");
    if (!ggmlTypeInfo(type))
      r.fail(at + ": unknown ggml type " + std::to_string(type));
    t.type = static_cast<GgmlType>(type);
    std::uint64_t offset = r.u64(at + " offset");
    std::uint64_t size = 0;
    try {
      size = t.byteSize();
    } catch (const GgufError &e) {
      r.fail(e.what());
    }
    if (offset % align != 0)
      r.fail(at + ": offset " + std::to_string(offset) +
             " is not a multiple of the alignment " + std::to_string(align));
    infos.push_back({offset, size});
    out.tensors.push_back(std::move(t));
  }

  std::uint64_t dataStart = alignUp(r.pos(), align);
  std::uint64_t dataSize = 0;
  if (dataStart <= bytes.size())
    dataSize = bytes.size() - dataStart;
  else if (!out.tensors.empty())
    r.fail("truncated: the tensor data would start at offset " +
           std::to_string(dataStart) + ", past the end of the file (" +
           std::to_string(bytes.size()) + " bytes)");
  std::vector<std::size_t> order(infos.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    const Info &in = infos[k];
    const std::string &name = out.tensors[k].name;
    if (in.offset > dataSize || in.size > dataSize - in.offset)
      r.fail("tensor '" + name + "': data [" + std::to_string(in.offset) +
             ", " + std::to_string(in.offset) + " + " +
             std::to_string(in.size) + ") runs past the end of the data (" +
             std::to_string(dataSize) + " bytes; file truncated?)");
    order[k] = k;
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return infos[a].offset < infos[b].offset;
  });
  for (std::size_t k = 1; k < order.size(); ++k) {
    const Info &prev = infos[order[k - 1]];
    if (infos[order[k]].offset < prev.offset + prev.size)
      r.fail("tensor '" + out.tensors[order[k]].name + "' overlaps tensor '" +
             out.tensors[order[k - 1]].name + "'");
  }
  for (std::size_t k = 0; k < infos.size(); ++k) {
    std::string_view s = r.slice(dataStart + infos[k].offset, infos[k].size);
    out.tensors[k].data.assign(s.begin(), s.end());
  }
  return out;
}

void writeGguf(const std::filesystem::path &path, const GgufFile &file) {
  io::writeFileAtomic(path, encodeGguf(file));
}

GgufFile readGguf(const std::filesystem::path &path) {
  std::string bytes;
  try {
    bytes = io::readFile(path);
  } catch (const std::runtime_error &e) {
    throw GgufError(e.what());
  }
  return decodeGguf(bytes, path.string());
}

} // namespace gpt::interop
