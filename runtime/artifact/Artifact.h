//===- Artifact.h - The compiled artifact: data model, reader, writer -----===//
//
// The artifact is the contract between the compiler and the runtime; its
// format is specified in docs/artifact.md. This header mirrors the manifest
// in plain structs. parseArtifact/readArtifact check the container (magic,
// version, length, CRC-32), the JSON, the schema and every cross reference,
// and throw ArtifactError naming the file and the field at fault.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "schema/ElementwiseProgram.h"
#include "schema/ModelConfig.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace gpt {

/// An artifact that cannot be used. The message names the file and field.
class ArtifactError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

enum class DType { F32, I32 };
const char *dtypeName(DType dtype);

/// Symbolic dims in shapes.
constexpr int64_t kDimBatch = -1;    ///< B
constexpr int64_t kDimSequence = -2; ///< T
/// N, the number of blocks of a paged KV cache: appears only in the shapes
/// of inputs (and their aliases), bound from the caller's tensors.
constexpr int64_t kDimPool = -3;

enum class StorageKind { Input, StaticArena, TokenArena, Alias };

struct Storage {
  StorageKind kind = StorageKind::StaticArena;
  int64_t index = -1; ///< Input: index into Function::inputs
  int64_t offset = 0; ///< arenas: bytes (static) or bytes per token (token)
  int64_t of = -1;    ///< Alias: the value whose bytes this one shares
};

struct Value {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  Storage storage;
};

struct FunctionInput {
  std::string name;
  std::string role; ///< "input", "param" or "state"
  int64_t value = -1;
};

struct FunctionOutput {
  std::string name;
  int64_t value = -1;
  int64_t aliasInput = -1; ///< -1: read back by the caller
};

struct Kernel {
  std::string kernel;
  std::vector<int64_t> inputs;  ///< value ids, -1 for an absent operand
  std::vector<int64_t> outputs; ///< value ids, -1 for an absent result
  nlohmann::json attrs = nlohmann::json::object();
  std::string loc;   ///< optional source location (debugging)
  EwProgram program; ///< `elementwise` only, decoded from attrs.program
  /// `elementwise` of a "vulkan" artifact only: the compute shader the
  /// compiler generated (attrs.spirv, base64), decoded once at load time.
  std::vector<uint32_t> spirv;
};

struct Function {
  std::string name;
  std::vector<FunctionInput> inputs;
  std::vector<FunctionOutput> outputs;
  std::vector<Value> values;
  std::vector<Kernel> kernels;
  int64_t staticBytes = 0;
  int64_t tokenBytes = 0; ///< the token arena holds tokenBytes * B * T

  /// Index of the input with this name, or -1.
  int64_t findInput(const std::string &name) const;
};

struct Artifact {
  int format = 1;
  std::string compiler;
  std::string target;
  nlohmann::json configJson;
  ModelConfig config;
  std::vector<Function> functions;

  /// The function with this name, or nullptr.
  const Function *findFunction(const std::string &name) const;
};

/// Container layout.
constexpr char kArtifactMagic[8] = {'G', 'P', 'T', 'A', 'R', 'T', '\0', '\1'};
constexpr uint32_t kArtifactVersion = 1;
constexpr size_t kArtifactHeaderBytes = 24;

/// CRC-32 (IEEE 802.3, zlib's crc32()): crc32(data, n) of a fresh buffer;
/// pass a previous result as `crc` to continue it.
uint32_t crc32(const void *data, size_t size, uint32_t crc = 0);

/// Reads and validates an artifact file. Throws ArtifactError.
Artifact readArtifact(const std::string &path);
/// Validates the bytes of an artifact; sourceName prefixes every message.
Artifact parseArtifact(const std::string &bytes, const std::string &sourceName);
/// Checks the schema of a manifest (the JSON payload) and converts it.
Artifact artifactFromManifest(const nlohmann::json &manifest,
                              const std::string &sourceName);
/// Checks every cross reference of an artifact (value ids, storage, arena
/// bounds, kernel arity, dtypes, attributes, shapes). parseArtifact calls it;
/// the executors call it again for artifacts built in memory.
void validateArtifact(const Artifact &artifact, const std::string &sourceName);

/// Targets an artifact may be compiled for.
bool isKnownTarget(const std::string &target); ///< "cpu" or "vulkan"

/// Standard base64 (RFC 4648, with '=' padding) of bytes.
std::string base64Encode(const void *data, size_t size);
/// Decodes standard base64; false on a bad character, length or padding.
bool base64Decode(const std::string &text, std::string &bytes);
/// SPIR-V magic number (first word, little-endian).
constexpr uint32_t kSpirvMagic = 0x07230203;
/// Decodes an `elementwise` kernel's "spirv" attribute (base64 of the
/// little-endian words). Returns "" on success, else what is wrong.
std::string decodeSpirvAttr(const std::string &base64,
                            std::vector<uint32_t> &words);

namespace detail {
/// Decodes an `elementwise` program (attrs.program) with the reader's
/// schema checks; register ids are checked by validateArtifact. Throws
/// ArtifactError prefixed with `source` and `path`.
EwProgram decodeProgram(const nlohmann::json &program, const std::string &path,
                        const std::string &source);
} // namespace detail

/// Writes the container around a manifest (header + compact JSON).
std::string serializeArtifact(const nlohmann::json &manifest);
void writeArtifactFile(const std::string &path, const nlohmann::json &manifest);

//===----------------------------------------------------------------------===//
// Shapes and kernel contracts (shared by the reader and the executors)
//===----------------------------------------------------------------------===//

/// Element count c * B^batchPower * T^seqPower * N^poolPower of a symbolic
/// shape.
struct SymbolicCount {
  int64_t factor = 1;
  int batchPower = 0;
  int seqPower = 0;
  int poolPower = 0;
  bool operator==(const SymbolicCount &o) const {
    return factor == o.factor && batchPower == o.batchPower &&
           seqPower == o.seqPower && poolPower == o.poolPower;
  }
};
/// Throws ArtifactError (message without prefix) on overflow (> 2^48).
SymbolicCount symbolicCount(const std::vector<int64_t> &shape);

/// The shape with B, T and N substituted. Throws ArtifactError on overflow
/// or when the shape has an N dim (-3) and N < 0 (not bound).
std::vector<int64_t> bindShape(const std::vector<int64_t> &shape, int64_t B,
                               int64_t T, int64_t N = -1);
/// "[B, T, 768]": a symbolic shape for messages.
std::string shapeStr(const std::vector<int64_t> &shape);

/// Product of dims (1 for a 0-d shape).
int64_t numElements(const std::vector<int64_t> &shape);

/// Reads a float attribute: a JSON number or "inf", "-inf", "nan".
float attrFloat(const Kernel &kernel, const char *name, float fallback = 0.0f);
bool attrBool(const Kernel &kernel, const char *name, bool fallback = false);
int64_t attrInt(const Kernel &kernel, const char *name, int64_t fallback = 0);
std::vector<int64_t> attrInts(const Kernel &kernel, const char *name);

/// Checks the operand shapes of one kernel given concrete shapes of all the
/// function's values (indexed by value id). Returns an empty string if they
/// fit the kernel's contract, else what is wrong.
std::string checkKernelShapes(const Function &function, const Kernel &kernel,
                              const std::vector<std::vector<int64_t>> &shapes);

} // namespace gpt
