//===- Artifact.cpp - Artifact container, manifest schema, writer ---------===//
//
// Container and JSON schema. The cross-reference checks (value ids, storage,
// kernels) are in Validate.cpp.
//
//===----------------------------------------------------------------------===//
#include "runtime/artifact/Artifact.h"
#include "schema/KernelRegistry.h"

#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace gpt {
namespace detail {
EwProgram decodeProgram(const nlohmann::json &program, const std::string &path,
                        const std::string &source);
} // namespace detail

namespace {
using json = nlohmann::json;

/// Largest integer any size, offset or dim may have (2^50): big enough for
/// any real model, small enough that sums and small products cannot wrap.
constexpr int64_t kMaxInt = int64_t(1) << 50;
/// Deepest JSON nesting accepted (a real manifest needs about 6).
constexpr int kMaxDepth = 64;

std::array<uint32_t, 256> makeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

class Schema {
public:
  explicit Schema(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string &path,
                         const std::string &what) const {
    throw ArtifactError(source_ + ": " + path + ": " + what);
  }

  static std::string describe(const json &v) {
    std::string text = v.dump();
    if (text.size() > 40)
      text = text.substr(0, 37) + "...";
    return std::string(v.type_name()) + " " + text;
  }

  void expectObject(const json &v, const std::string &path,
                    std::initializer_list<const char *> allowed) const {
    if (!v.is_object())
      fail(path, "expected an object, got " + describe(v));
    for (auto it = v.begin(); it != v.end(); ++it) {
      bool known = false;
      for (const char *key : allowed)
        known = known || it.key() == key;
      if (!known)
        fail(path, "unknown field '" + it.key() + "'");
    }
  }

  const json &field(const json &object, const char *key,
                    const std::string &path) const {
    auto it = object.find(key);
    if (it == object.end())
      fail(path, std::string("missing field '") + key + "'");
    return *it;
  }

  int64_t integer(const json &v, const std::string &path, int64_t min,
                  int64_t max) const {
    if (!v.is_number_integer())
      fail(path, "expected an integer, got " + describe(v));
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > static_cast<uint64_t>(kMaxInt))
      fail(path, "integer " + v.dump() + " out of range [" +
                     std::to_string(min) + ", " + std::to_string(max) + "]");
    int64_t x = v.get<int64_t>();
    if (x < min || x > max)
      fail(path, "integer " + v.dump() + " out of range [" +
                     std::to_string(min) + ", " + std::to_string(max) + "]");
    return x;
  }

  std::string string(const json &v, const std::string &path,
                     bool nonEmpty = true) const {
    if (!v.is_string())
      fail(path, "expected a string, got " + describe(v));
    std::string s = v.get<std::string>();
    if (nonEmpty && s.empty())
      fail(path, "must not be empty");
    return s;
  }

  const json &array(const json &v, const std::string &path) const {
    if (!v.is_array())
      fail(path, "expected an array, got " + describe(v));
    return v;
  }

  std::vector<int64_t> ids(const json &v, const std::string &path) const {
    array(v, path);
    std::vector<int64_t> out;
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      out.push_back(
          integer(v[i], path + "[" + std::to_string(i) + "]", -1, kMaxInt));
    return out;
  }

  Value value(const json &v, const std::string &path) const {
    expectObject(v, path, {"dtype", "shape", "storage"});
    Value out;
    std::string dtype = string(field(v, "dtype", path), path + ".dtype");
    if (dtype == "f32")
      out.dtype = DType::F32;
    else if (dtype == "i32")
      out.dtype = DType::I32;
    else
      fail(path + ".dtype", "unknown dtype '" + dtype + "' (f32 or i32)");
    const json &shape = array(field(v, "shape", path), path + ".shape");
    if (shape.size() > 8)
      fail(path + ".shape", "rank " + std::to_string(shape.size()) +
                                " exceeds the maximum of 8");
    for (size_t i = 0; i < shape.size(); ++i) {
      std::string p = path + ".shape[" + std::to_string(i) + "]";
      int64_t d =
          integer(shape[i], p, std::numeric_limits<int64_t>::min(), kMaxInt);
      if (d < 0 && d != kDimBatch && d != kDimSequence && d != kDimPool)
        fail(p, "dim " + std::to_string(d) +
                    " is neither >= 0 nor -1 (B), -2 (T) or -3 (N)");
      out.shape.push_back(d);
    }
    std::string sp = path + ".storage";
    const json &s = field(v, "storage", path);
    if (!s.is_object())
      fail(sp, "expected an object, got " + describe(s));
    std::string kind = string(field(s, "kind", sp), sp + ".kind");
    if (kind == "input") {
      expectObject(s, sp, {"kind", "index"});
      out.storage.kind = StorageKind::Input;
      out.storage.index =
          integer(field(s, "index", sp), sp + ".index", 0, kMaxInt);
    } else if (kind == "arena") {
      expectObject(s, sp, {"kind", "arena", "offset"});
      std::string arena = string(field(s, "arena", sp), sp + ".arena");
      if (arena == "static")
        out.storage.kind = StorageKind::StaticArena;
      else if (arena == "token")
        out.storage.kind = StorageKind::TokenArena;
      else
        fail(sp + ".arena", "unknown arena '" + arena + "' (static or token)");
      out.storage.offset =
          integer(field(s, "offset", sp), sp + ".offset", 0, kMaxInt);
    } else if (kind == "alias") {
      expectObject(s, sp, {"kind", "of"});
      out.storage.kind = StorageKind::Alias;
      out.storage.of = integer(field(s, "of", sp), sp + ".of", 0, kMaxInt);
    } else {
      fail(sp + ".kind",
           "unknown storage kind '" + kind + "' (input, arena or alias)");
    }
    return out;
  }

  Kernel kernel(const json &v, const std::string &path) const {
    expectObject(v, path, {"kernel", "inputs", "outputs", "attrs", "loc"});
    Kernel k;
    k.kernel = string(field(v, "kernel", path), path + ".kernel");
    k.inputs = ids(field(v, "inputs", path), path + ".inputs");
    k.outputs = ids(field(v, "outputs", path), path + ".outputs");
    if (v.contains("attrs")) {
      const json &attrs = v["attrs"];
      if (!attrs.is_object())
        fail(path + ".attrs", "expected an object, got " + describe(attrs));
      k.attrs = attrs;
    }
    if (v.contains("loc"))
      k.loc = string(v["loc"], path + ".loc", false);
    if (k.kernel == kernelName(KernelId::Elementwise) &&
        k.attrs.contains("program") && k.attrs["program"].is_object())
      k.program = detail::decodeProgram(k.attrs["program"],
                                        path + ".attrs.program", source_);
    return k;
  }

  Function function(const json &v, const std::string &path) const {
    expectObject(v, path,
                 {"name", "inputs", "outputs", "values", "kernels", "arena"});
    Function f;
    f.name = string(field(v, "name", path), path + ".name");
    const json &inputs = array(field(v, "inputs", path), path + ".inputs");
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::string p = path + ".inputs[" + std::to_string(i) + "]";
      expectObject(inputs[i], p, {"name", "role", "value"});
      FunctionInput in;
      in.name = string(field(inputs[i], "name", p), p + ".name");
      in.role = string(field(inputs[i], "role", p), p + ".role");
      if (in.role != "input" && in.role != "param" && in.role != "state")
        fail(p + ".role",
             "unknown role '" + in.role + "' (input, param or state)");
      in.value =
          integer(field(inputs[i], "value", p), p + ".value", 0, kMaxInt);
      f.inputs.push_back(std::move(in));
    }
    const json &outputs = array(field(v, "outputs", path), path + ".outputs");
    for (size_t i = 0; i < outputs.size(); ++i) {
      std::string p = path + ".outputs[" + std::to_string(i) + "]";
      expectObject(outputs[i], p, {"name", "value", "alias_input"});
      FunctionOutput out;
      out.name = string(field(outputs[i], "name", p), p + ".name");
      out.value =
          integer(field(outputs[i], "value", p), p + ".value", 0, kMaxInt);
      if (outputs[i].contains("alias_input"))
        out.aliasInput =
            integer(outputs[i]["alias_input"], p + ".alias_input", 0, kMaxInt);
      f.outputs.push_back(std::move(out));
    }
    const json &values = array(field(v, "values", path), path + ".values");
    f.values.reserve(values.size());
    for (size_t i = 0; i < values.size(); ++i)
      f.values.push_back(
          value(values[i], path + ".values[" + std::to_string(i) + "]"));
    const json &kernels = array(field(v, "kernels", path), path + ".kernels");
    f.kernels.reserve(kernels.size());
    for (size_t i = 0; i < kernels.size(); ++i)
      f.kernels.push_back(
          kernel(kernels[i], path + ".kernels[" + std::to_string(i) + "]"));
    std::string ap = path + ".arena";
    const json &arena = field(v, "arena", path);
    expectObject(arena, ap, {"static_bytes", "token_bytes"});
    f.staticBytes = integer(field(arena, "static_bytes", ap),
                            ap + ".static_bytes", 0, kMaxInt);
    f.tokenBytes = integer(field(arena, "token_bytes", ap), ap + ".token_bytes",
                           0, kMaxInt);
    return f;
  }

private:
  std::string source_;
};

uint32_t readU32(const unsigned char *p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
         uint32_t(p[3]) << 24;
}

uint64_t readU64(const unsigned char *p) {
  return uint64_t(readU32(p)) | uint64_t(readU32(p + 4)) << 32;
}

void putU32(std::string &out, uint32_t x) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}

/// Nesting depth of JSON text, ignoring brackets inside strings. Stops
/// counting once past the limit.
int jsonDepth(const std::string &text, size_t begin) {
  int depth = 0, maxDepth = 0;
  bool inString = false, escaped = false;
  for (size_t i = begin; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      maxDepth = std::max(maxDepth, ++depth);
      if (maxDepth > kMaxDepth)
        return maxDepth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return maxDepth;
}

} // namespace

const char *dtypeName(DType dtype) {
  return dtype == DType::F32 ? "f32" : "i32";
}

int64_t Function::findInput(const std::string &name) const {
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].name == name)
      return static_cast<int64_t>(i);
  return -1;
}

const Function *Artifact::findFunction(const std::string &name) const {
  for (const Function &f : functions)
    if (f.name == name)
      return &f;
  return nullptr;
}

uint32_t crc32(const void *data, size_t size, uint32_t crc) {
  static const std::array<uint32_t, 256> table = makeCrcTable();
  const auto *p = static_cast<const unsigned char *>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i)
    crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

Artifact artifactFromManifest(const nlohmann::json &m,
                              const std::string &sourceName) {
  Schema s(sourceName);
  s.expectObject(m, "manifest",
                 {"format", "compiler", "target", "config", "functions"});
  Artifact a;
  a.format = static_cast<int>(
      s.integer(s.field(m, "format", "manifest"), "format", 0, kMaxInt));
  if (a.format != 1)
    s.fail("format", "unsupported format " + std::to_string(a.format) +
                         " (this runtime reads format 1)");
  a.compiler = s.string(s.field(m, "compiler", "manifest"), "compiler");
  a.target = s.string(s.field(m, "target", "manifest"), "target");
  if (!isKnownTarget(a.target))
    s.fail("target", "unknown target '" + a.target + "' (cpu or vulkan)");
  a.configJson = s.field(m, "config", "manifest");
  if (!a.configJson.is_object())
    s.fail("config",
           "expected an object, got " + Schema::describe(a.configJson));
  try {
    a.config = parseModelConfig(a.configJson.dump(), "config");
  } catch (const ConfigError &e) {
    throw ArtifactError(sourceName + ": " + e.what());
  }
  const json &functions =
      s.array(s.field(m, "functions", "manifest"), "functions");
  for (size_t i = 0; i < functions.size(); ++i)
    a.functions.push_back(
        s.function(functions[i], "functions[" + std::to_string(i) + "]"));
  // Generated shaders are decoded once here, not per call; whether the
  // target allows or needs them is checked by validateArtifact.
  for (size_t fi = 0; fi < a.functions.size(); ++fi)
    for (size_t ki = 0; ki < a.functions[fi].kernels.size(); ++ki) {
      Kernel &k = a.functions[fi].kernels[ki];
      auto it = k.attrs.find("spirv");
      if (k.kernel != kernelName(KernelId::Elementwise) ||
          it == k.attrs.end() || !it->is_string())
        continue;
      std::string err = decodeSpirvAttr(it->get<std::string>(), k.spirv);
      if (!err.empty())
        s.fail("functions[" + std::to_string(fi) + "].kernels[" +
                   std::to_string(ki) + "].attrs.spirv",
               err);
    }
  // gptc 0.1 emits paged_attention without its attributes; they can only be
  // the model's: n_head heads and 1/sqrt(head_dim) (docs/artifact.md).
  for (Function &f : a.functions)
    for (Kernel &k : f.kernels)
      if (k.kernel == kernelName(KernelId::PagedAttention) &&
          a.config.n_head > 0) {
        if (!k.attrs.contains("num_heads"))
          k.attrs["num_heads"] = a.config.n_head;
        if (!k.attrs.contains("scale"))
          k.attrs["scale"] =
              1.0 / std::sqrt(double(a.config.d_model / a.config.n_head));
      }
  validateArtifact(a, sourceName);
  return a;
}

Artifact parseArtifact(const std::string &bytes,
                       const std::string &sourceName) {
  auto fail = [&](const std::string &what) -> void {
    throw ArtifactError(sourceName + ": " + what);
  };
  if (bytes.size() < kArtifactHeaderBytes)
    fail("file is " + std::to_string(bytes.size()) +
         " bytes, shorter than the 24-byte artifact header");
  const auto *p = reinterpret_cast<const unsigned char *>(bytes.data());
  if (std::memcmp(p, kArtifactMagic, 8) != 0)
    fail("bad magic: not a gpt artifact (expected \"GPTART\\0\\1\")");
  uint32_t version = readU32(p + 8);
  if (version != kArtifactVersion)
    fail("header.version: unsupported format version " +
         std::to_string(version) + " (this runtime reads version 1)");
  uint32_t crc = readU32(p + 12);
  uint64_t length = readU64(p + 16);
  uint64_t rest = bytes.size() - kArtifactHeaderBytes;
  if (length != rest)
    fail("header.payload_length: header says " + std::to_string(length) +
         " payload bytes but the file has " + std::to_string(rest) +
         (length > rest ? " (truncated file?)" : " (trailing bytes?)"));
  uint32_t actual = crc32(p + kArtifactHeaderBytes, rest);
  if (actual != crc) {
    std::ostringstream os;
    os << std::hex << "header.crc32: checksum mismatch (header 0x" << crc
       << ", payload 0x" << actual << "): the file is corrupt";
    fail(os.str());
  }
  if (jsonDepth(bytes, kArtifactHeaderBytes) > kMaxDepth)
    fail("payload: JSON nested deeper than " + std::to_string(kMaxDepth) +
         " levels");
  json manifest;
  try {
    manifest = json::parse(bytes.begin() + kArtifactHeaderBytes, bytes.end());
  } catch (const json::exception &e) {
    fail(std::string("payload: invalid JSON: ") + e.what());
  }
  return artifactFromManifest(manifest, sourceName);
}

Artifact readArtifact(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw ArtifactError(path + ": cannot open file: " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad())
    throw ArtifactError(path + ": read error");
  return parseArtifact(buffer.str(), path);
}

std::string serializeArtifact(const nlohmann::json &manifest) {
  std::string payload = manifest.dump();
  std::string out(kArtifactMagic, kArtifactMagic + 8);
  putU32(out, kArtifactVersion);
  putU32(out, crc32(payload.data(), payload.size()));
  uint64_t length = payload.size();
  putU32(out, static_cast<uint32_t>(length));
  putU32(out, static_cast<uint32_t>(length >> 32));
  out += payload;
  return out;
}

void writeArtifactFile(const std::string &path,
                       const nlohmann::json &manifest) {
  std::string bytes = serializeArtifact(manifest);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out)
    throw ArtifactError(path + ": cannot write file");
}

bool isKnownTarget(const std::string &target) {
  return target == "cpu" || target == "vulkan";
}

namespace {
constexpr char kBase64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
} // namespace

std::string base64Encode(const void *data, size_t size) {
  const auto *p = static_cast<const unsigned char *>(data);
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  for (size_t i = 0; i < size; i += 3) {
    uint32_t v = uint32_t(p[i]) << 16;
    if (i + 1 < size)
      v |= uint32_t(p[i + 1]) << 8;
    if (i + 2 < size)
      v |= p[i + 2];
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < size ? kBase64[(v >> 6) & 63] : '=';
    out += i + 2 < size ? kBase64[v & 63] : '=';
  }
  return out;
}

bool base64Decode(const std::string &text, std::string &bytes) {
  bytes.clear();
  if (text.size() % 4 != 0)
    return false;
  int8_t value[256];
  std::memset(value, -1, sizeof value);
  for (int i = 0; i < 64; ++i)
    value[static_cast<unsigned char>(kBase64[i])] = static_cast<int8_t>(i);
  bytes.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int pad = 0;
    uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      unsigned char ch = static_cast<unsigned char>(text[i + j]);
      // '=' only at the very end: "xx==" or "xxx=".
      if (ch == '=' && last && j >= 2 && (j == 3 || text[i + 3] == '=')) {
        ++pad;
        v <<= 6;
        continue;
      }
      if (value[ch] < 0 || pad)
        return false;
      v = (v << 6) | uint32_t(value[ch]);
    }
    bytes += static_cast<char>((v >> 16) & 0xff);
    if (pad < 2)
      bytes += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1)
      bytes += static_cast<char>(v & 0xff);
  }
  return true;
}

std::string decodeSpirvAttr(const std::string &base64,
                            std::vector<uint32_t> &words) {
  words.clear();
  std::string bytes;
  if (!base64Decode(base64, bytes))
    return "not valid base64";
  if (bytes.size() % 4 != 0)
    return "SPIR-V is " + std::to_string(bytes.size()) +
           " bytes, not a whole number of 32-bit words";
  // The header alone is 5 words.
  if (bytes.size() < 20)
    return "SPIR-V is " + std::to_string(bytes.size()) +
           " bytes, shorter than its 20-byte header";
  const auto *p = reinterpret_cast<const unsigned char *>(bytes.data());
  words.resize(bytes.size() / 4);
  for (size_t i = 0; i < words.size(); ++i)
    words[i] = readU32(p + 4 * i);
  if (words[0] != kSpirvMagic) {
    std::ostringstream os;
    os << std::hex << "bad SPIR-V magic 0x" << words[0] << " (expected 0x"
       << kSpirvMagic << ")";
    words.clear();
    return os.str();
  }
  return "";
}

std::string shapeStr(const std::vector<int64_t> &s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i)
      out += ", ";
    out += s[i] == kDimBatch      ? "B"
           : s[i] == kDimSequence ? "T"
           : s[i] == kDimPool     ? "N"
                                  : std::to_string(s[i]);
  }
  return out + "]";
}

} // namespace gpt
