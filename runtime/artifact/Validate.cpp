//===- Validate.cpp - Cross-reference checks and kernel contracts ---------===//
//
// The kernel table of docs/artifact.md as data: arity, optional operands,
// dtypes, attributes, and shape rules (checked on concrete shapes, at load
// time with a probe binding of B and T, and again by the executors for the
// real B and T of each call).
//
//===----------------------------------------------------------------------===//
#include "runtime/artifact/Artifact.h"
#include "schema/KernelRegistry.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace gpt {
namespace {
using json = nlohmann::json;
using Shape = std::vector<int64_t>;

constexpr int64_t kMaxElements = int64_t(1) << 48;

enum class AttrType { Float, Bool, Int, Ints, Program, Spirv, Word };
struct AttrSpec {
  const char *name;
  AttrType type;
  bool required;
};

/// Which dtype an operand must have.
enum class DRule { F32, I32, Any, SameAsIn0 };

struct KernelSpec {
  const char *name;
  int minIn, maxIn; ///< maxIn < 0: unbounded
  int minOut, maxOut;
  std::vector<int> optionalIn, optionalOut;
  std::vector<AttrSpec> attrs;
  std::vector<DRule> inTypes;  ///< per position; the last repeats
  std::vector<DRule> outTypes; ///< per position; the last repeats
};

const AttrSpec kEps{"epsilon", AttrType::Float, true};
const AttrSpec kHeads{"num_heads", AttrType::Int, true};
const AttrSpec kScale{"scale", AttrType::Float, true};
const AttrSpec kAxis{"axis", AttrType::Int, true};
const AttrSpec kTransW{"transpose_weight", AttrType::Bool, false};
const AttrSpec kCausal{"causal", AttrType::Bool, false}; // default true

const std::vector<KernelSpec> &kernelSpecs() {
  using D = DRule;
  static const std::vector<KernelSpec> specs = {
      {kernelName(KernelId::Embedding),
       2,
       2,
       1,
       1,
       {},
       {},
       {},
       {D::F32, D::I32},
       {D::F32}},
      {kernelName(KernelId::PositionEmbedding),
       2,
       3,
       1,
       1,
       {2},
       {},
       {},
       {D::F32, D::Any, D::I32},
       {D::F32}},
      {kernelName(KernelId::Rope),
       2,
       2,
       1,
       1,
       {1},
       {},
       {{"head_dim", AttrType::Int, true},
        {"columns", AttrType::Int, true},
        {"theta", AttrType::Float, true},
        {"inverse", AttrType::Bool, false}},
       {D::F32, D::I32},
       {D::F32}},
      {kernelName(KernelId::KvCacheWrite),
       4,
       4,
       1,
       1,
       {},
       {},
       {},
       {D::F32, D::F32, D::I32, D::I32},
       {D::F32}},
      {kernelName(KernelId::PagedAttention),
       5,
       5,
       1,
       1,
       {},
       {},
       {kHeads, kScale},
       {D::F32, D::F32, D::F32, D::I32, D::I32},
       {D::F32}},
      {kernelName(KernelId::TakeLast),
       1,
       1,
       1,
       1,
       {},
       {},
       {},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::Layernorm),
       3,
       3,
       1,
       1,
       {2},
       {},
       {kEps},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::Linear),
       3,
       3,
       1,
       1,
       {2},
       {},
       {kTransW},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::Matmul),
       2,
       2,
       1,
       1,
       {},
       {},
       {{"transpose_lhs", AttrType::Bool, false},
        {"transpose_rhs", AttrType::Bool, false}},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::Split),
       1,
       1,
       1,
       -1,
       {},
       {},
       {kAxis},
       {D::Any},
       {D::SameAsIn0}},
      {kernelName(KernelId::Concat),
       1,
       -1,
       1,
       1,
       {},
       {},
       {kAxis},
       {D::Any},
       {D::SameAsIn0}},
      {kernelName(KernelId::Transpose),
       1,
       1,
       1,
       1,
       {},
       {},
       {{"permutation", AttrType::Ints, true}},
       {D::Any},
       {D::SameAsIn0}},
      {kernelName(KernelId::Softmax),
       1,
       1,
       1,
       1,
       {},
       {},
       {kAxis},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::SoftmaxGrad),
       2,
       2,
       1,
       1,
       {},
       {},
       {kAxis},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::ScaledMaskedSoftmax),
       1,
       1,
       1,
       1,
       {},
       {},
       {kScale, {"causal", AttrType::Bool, true}},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::CausalMask),
       1,
       1,
       1,
       1,
       {},
       {},
       {{kernelName(KernelId::Fill), AttrType::Float, true}},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::Attention),
       3,
       3,
       2,
       2,
       {},
       {1},
       {kHeads, kScale, kCausal},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::AttentionQkv),
       1,
       1,
       2,
       2,
       {},
       {1},
       {kHeads, kScale, kCausal},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::AttentionGrad),
       6,
       6,
       3,
       3,
       {},
       {0, 1, 2},
       {kHeads, kScale, kCausal},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::AttentionQkvGrad),
       4,
       4,
       1,
       1,
       {},
       {},
       {kHeads, kScale, kCausal},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::CrossEntropy),
       3,
       3,
       1,
       1,
       {2},
       {},
       {},
       {D::F32, D::I32, D::F32},
       {D::F32}},
      {kernelName(KernelId::CrossEntropyGrad),
       4,
       4,
       1,
       1,
       {3},
       {},
       {},
       {D::F32, D::F32, D::I32, D::F32},
       {D::F32}},
      {kernelName(KernelId::Elementwise),
       0,
       -1,
       1,
       -1,
       {},
       {},
       {{"program", AttrType::Program, true},
        {"spirv", AttrType::Spirv, false}},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::SumLeading),
       1,
       1,
       1,
       1,
       {},
       {},
       {},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::Copy),
       1,
       1,
       1,
       1,
       {},
       {},
       {},
       {D::Any},
       {D::SameAsIn0}},
      {kernelName(KernelId::EmbeddingGrad),
       2,
       2,
       1,
       1,
       {},
       {},
       {},
       {D::F32, D::I32},
       {D::F32}},
      {kernelName(KernelId::PositionEmbeddingGrad),
       1,
       1,
       1,
       1,
       {},
       {},
       {},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::LayernormGrad),
       3,
       3,
       3,
       3,
       {},
       {1, 2},
       {kEps},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::LinearWeightGrad),
       2,
       2,
       1,
       1,
       {},
       {},
       {kTransW},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::Fill),
       0,
       0,
       1,
       1,
       {},
       {},
       {{"value", AttrType::Float, true}},
       {D::Any},
       {D::Any}},
      {kernelName(KernelId::GlobalNorm),
       1,
       -1,
       1,
       1,
       {},
       {},
       {},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::LrSchedule),
       2,
       2,
       1,
       1,
       {},
       {},
       {},
       {D::I32, D::F32},
       {D::F32}},
      {kernelName(KernelId::AllReduce),
       1,
       -1,
       1,
       -1,
       {},
       {},
       {{"reduction", AttrType::Word, true}, {"group", AttrType::Word, true}},
       {D::F32},
       {D::F32}},
      {kernelName(KernelId::Adamw),
       8,
       8,
       3,
       3,
       {5},
       {},
       {{"decay", AttrType::Bool, true}},
       {D::F32, D::F32, D::F32, D::F32, D::F32, D::F32, D::I32, D::F32},
       {D::F32}},
  };
  return specs;
}

const KernelSpec *findSpec(const std::string &name) {
  for (const KernelSpec &s : kernelSpecs())
    if (name == s.name)
      return &s;
  return nullptr;
}

bool contains(const std::vector<int> &v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool isFloatAttr(const json &v) {
  if (v.is_number())
    return true;
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    return s == "inf" || s == "-inf" || s == "nan";
  }
  return false;
}

float toFloat(const json &v) {
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s == "inf")
      return std::numeric_limits<float>::infinity();
    if (s == "-inf")
      return -std::numeric_limits<float>::infinity();
    return std::numeric_limits<float>::quiet_NaN();
  }
  return v.get<float>();
}

struct Checker {
  const Artifact &artifact;
  std::string source;

  [[noreturn]] void fail(const std::string &path,
                         const std::string &what) const {
    throw ArtifactError(source + ": " + path + ": " + what);
  }

  void checkAttrs(const Kernel &k, const KernelSpec &spec,
                  const std::string &path) const {
    for (auto it = k.attrs.begin(); it != k.attrs.end(); ++it) {
      const AttrSpec *attr = nullptr;
      for (const AttrSpec &a : spec.attrs)
        if (it.key() == a.name)
          attr = &a;
      if (!attr)
        fail(path + ".attrs." + it.key(),
             "unknown attribute for kernel '" + k.kernel + "'");
      const json &v = it.value();
      std::string p = path + ".attrs." + it.key();
      switch (attr->type) {
      case AttrType::Float:
        if (!isFloatAttr(v))
          fail(p, "expected a number (or \"inf\", \"-inf\", \"nan\"), got " +
                      v.dump());
        break;
      case AttrType::Bool:
        if (!v.is_boolean())
          fail(p, "expected a boolean, got " + v.dump());
        break;
      case AttrType::Int:
        if (!v.is_number_integer() ||
            std::abs(v.get<double>()) > double(int64_t(1) << 40))
          fail(p, "expected an integer, got " + v.dump());
        break;
      case AttrType::Ints:
        if (!v.is_array() || v.size() > 8)
          fail(p, "expected an array of at most 8 integers");
        for (const json &x : v)
          if (!x.is_number_integer() ||
              std::abs(x.get<double>()) > double(int64_t(1) << 40))
            fail(p, "expected an array of integers, got " + v.dump());
        break;
      case AttrType::Program:
        if (!v.is_object())
          fail(p, "expected an object");
        break;
      case AttrType::Word:
        if (!v.is_string() || v.get<std::string>().empty() ||
            v.get<std::string>().size() > 64)
          fail(p, "expected a name of 1 to 64 characters, got " + v.dump());
        break;
      case AttrType::Spirv:
        if (!v.is_string())
          fail(p,
               "expected a string (base64 of SPIR-V words), got " + v.dump());
        break;
      }
    }
    for (const AttrSpec &a : spec.attrs)
      if (a.required && !k.attrs.contains(a.name))
        fail(path + ".attrs", std::string("missing attribute '") + a.name +
                                  "' of kernel '" + k.kernel + "'");
  }

  void checkProgram(const Kernel &k, const std::string &path) const {
    const EwProgram &prog = k.program;
    size_t n = k.inputs.size();
    std::string pp = path + ".attrs.program";
    for (size_t i = 0; i < prog.instructions.size(); ++i) {
      const EwInstruction &ins = prog.instructions[i];
      std::string p = pp + ".instructions[" + std::to_string(i) + "]";
      size_t arity = ewOpInfo(ins.op).arity;
      if (ins.args.size() != arity)
        fail(p + ".args", std::string("op '") + ewOpName(ins.op) + "' takes " +
                              std::to_string(arity) + " arguments, got " +
                              std::to_string(ins.args.size()));
      for (size_t a = 0; a < ins.args.size(); ++a)
        if (ins.args[a] < 0 || size_t(ins.args[a]) >= n + i)
          fail(p + ".args[" + std::to_string(a) + "]",
               "register " + std::to_string(ins.args[a]) +
                   " is not defined before instruction " + std::to_string(i) +
                   " (registers 0.." + std::to_string(n + i) +
                   " exclusive: " + std::to_string(n) + " inputs)");
      if (ins.op == EwOp::LayerNorm && i + 1 != prog.instructions.size())
        fail(p, "layernorm may only be the last instruction");
    }
    if (prog.outputs.size() != k.outputs.size())
      fail(pp + ".outputs", "names " + std::to_string(prog.outputs.size()) +
                                " registers but the kernel has " +
                                std::to_string(k.outputs.size()) + " outputs");
    size_t regs = n + prog.instructions.size();
    for (size_t o = 0; o < prog.outputs.size(); ++o)
      if (prog.outputs[o] < 0 || size_t(prog.outputs[o]) >= regs)
        fail(pp + ".outputs[" + std::to_string(o) + "]",
             "register " + std::to_string(prog.outputs[o]) +
                 " out of range (program has " + std::to_string(regs) +
                 " registers)");
  }

  /// Vulkan artifacts carry each elementwise program's compute shader (the
  /// runtime has no shader compiler); other targets must not.
  void checkSpirv(const Kernel &k, const std::string &path) const {
    bool has = k.attrs.contains("spirv");
    if (artifact.target != "vulkan") {
      if (has)
        fail(path + ".attrs.spirv", "generated SPIR-V in an artifact for "
                                    "target '" +
                                        artifact.target +
                                        "' (only target 'vulkan' has it)");
      return;
    }
    if (!has)
      fail(path + ".attrs",
           "missing attribute 'spirv' of kernel 'elementwise' (target "
           "'vulkan' needs the generated shader)");
    // Decoded at load time (artifactFromManifest); an artifact built in
    // memory must fill Kernel::spirv itself.
    if (k.spirv.size() < 5 || k.spirv[0] != kSpirvMagic)
      fail(path + ".attrs.spirv", "SPIR-V not decoded or not valid");
  }

  /// Every check of one function, in order: inputs, value storage,
  /// outputs, kernel operands and attributes, shapes at a probe binding.
  void checkFunction(const Function &f, const std::string &path) const {
    checkInputs(f, path);
    std::vector<SymbolicCount> counts = valueCounts(f, path);
    for (int64_t v = 0; v < int64_t(f.values.size()); ++v)
      checkStorage(f, counts, v, path);
    std::set<int64_t> writableInputs = checkOutputs(f, counts, path);
    for (size_t ki = 0; ki < f.kernels.size(); ++ki)
      checkKernel(f, ki, writableInputs, path);
    checkShapesAtProbe(f, path);
  }

  void valueId(const Function &f, int64_t id, const std::string &p) const {
    const int64_t nv = static_cast<int64_t>(f.values.size());
    if (id < 0 || id >= nv)
      fail(p, "value id " + std::to_string(id) +
                  " out of range (function has " + std::to_string(nv) +
                  " values)");
  }

  /// The input whose buffer value v ends up in (through aliases), or -1.
  int64_t rootInput(const Function &f, int64_t v) const {
    const int64_t nv = static_cast<int64_t>(f.values.size());
    for (int64_t steps = 0;
         f.values[v].storage.kind == StorageKind::Alias && steps <= nv; ++steps)
      v = f.values[v].storage.of;
    return f.values[v].storage.kind == StorageKind::Input
               ? f.values[v].storage.index
               : -1;
  }

  void checkInputs(const Function &f, const std::string &path) const {
    std::set<std::string> names;
    for (size_t i = 0; i < f.inputs.size(); ++i) {
      std::string p = path + ".inputs[" + std::to_string(i) + "]";
      if (!names.insert(f.inputs[i].name).second)
        fail(p + ".name", "duplicate input name '" + f.inputs[i].name + "'");
      valueId(f, f.inputs[i].value, p + ".value");
      const Storage &s = f.values[f.inputs[i].value].storage;
      if (s.kind != StorageKind::Input || s.index != int64_t(i))
        fail(p + ".value", "value " + std::to_string(f.inputs[i].value) +
                               " must have storage {\"kind\": \"input\", "
                               "\"index\": " +
                               std::to_string(i) + "}");
    }
  }

  /// Each value's element count as a polynomial in B, T, N.
  std::vector<SymbolicCount> valueCounts(const Function &f,
                                         const std::string &path) const {
    const int64_t nv = static_cast<int64_t>(f.values.size());
    std::vector<SymbolicCount> counts(nv);
    for (int64_t v = 0; v < nv; ++v) {
      std::string p = path + ".values[" + std::to_string(v) + "]";
      try {
        counts[v] = symbolicCount(f.values[v].shape);
      } catch (const ArtifactError &e) {
        fail(p + ".shape", e.what());
      }
    }
    return counts;
  }

  /// Storage, arena bounds and alias chains of value v.
  void checkStorage(const Function &f, const std::vector<SymbolicCount> &counts,
                    int64_t v, const std::string &path) const {
    const int64_t nv = static_cast<int64_t>(f.values.size());
    const Value &value = f.values[v];
    const SymbolicCount &c = counts[v];
    std::string p = path + ".values[" + std::to_string(v) + "].storage";
    const Storage &s = value.storage;
    switch (s.kind) {
    case StorageKind::Input:
      if (s.index < 0 || s.index >= int64_t(f.inputs.size()))
        fail(p + ".index", "input index " + std::to_string(s.index) +
                               " out of range (function has " +
                               std::to_string(f.inputs.size()) + " inputs)");
      if (f.inputs[s.index].value != v)
        fail(p + ".index", "input " + std::to_string(s.index) +
                               " is bound to value " +
                               std::to_string(f.inputs[s.index].value) +
                               "; other views of it must be aliases");
      break;
    case StorageKind::StaticArena: {
      if (c.batchPower || c.seqPower || c.poolPower)
        fail(p, "value of shape " + shapeStr(value.shape) +
                    " depends on B, T or N and cannot live in the static "
                    "arena");
      if (s.offset % 64)
        fail(p + ".offset", "static offset " + std::to_string(s.offset) +
                                " is not a multiple of 64");
      int64_t bytes = c.factor * 4;
      if (s.offset > f.staticBytes || bytes > f.staticBytes - s.offset)
        fail(p, "bytes [" + std::to_string(s.offset) + ", " +
                    std::to_string(s.offset + bytes) +
                    ") lie outside the static arena of " +
                    std::to_string(f.staticBytes) + " bytes");
      break;
    }
    case StorageKind::TokenArena: {
      if (c.poolPower)
        fail(p, "value of shape " + shapeStr(value.shape) +
                    " depends on the KV pool size N (-3), which only inputs "
                    "and their aliases may");
      if (c.batchPower > 1 || c.seqPower > 1)
        fail(p, "value of shape " + shapeStr(value.shape) +
                    " grows faster than B*T and cannot live in the token "
                    "arena");
      if (s.offset % 4)
        fail(p + ".offset", "token offset " + std::to_string(s.offset) +
                                " is not a multiple of 4");
      int64_t perToken = c.factor * 4;
      if (s.offset > f.tokenBytes || perToken > f.tokenBytes - s.offset)
        fail(p, "bytes per token [" + std::to_string(s.offset) + ", " +
                    std::to_string(s.offset + perToken) +
                    ") lie outside the token arena of " +
                    std::to_string(f.tokenBytes) + " bytes per token");
      break;
    }
    case StorageKind::Alias: {
      if (s.of < 0 || s.of >= nv)
        fail(p + ".of", "value id " + std::to_string(s.of) +
                            " out of range (function has " +
                            std::to_string(nv) + " values)");
      if (s.of == v)
        fail(p + ".of", "a value cannot alias itself");
      // Follow the chain; it must end at a non-alias within nv steps.
      int64_t cur = s.of;
      for (int64_t steps = 0; f.values[cur].storage.kind == StorageKind::Alias;
           ++steps) {
        int64_t next = f.values[cur].storage.of;
        if (steps > nv || next < 0 || next >= nv || next == v)
          fail(p + ".of", "alias chain from value " + std::to_string(v) +
                              " does not end (cycle)");
        cur = next;
      }
      if (f.values[s.of].dtype != value.dtype)
        fail(p + ".of", std::string("alias of a ") +
                            dtypeName(f.values[s.of].dtype) + " value as " +
                            dtypeName(value.dtype));
      if (!(counts[s.of] == c))
        fail(p + ".of", "alias of value " + std::to_string(s.of) +
                            " with shape " + shapeStr(f.values[s.of].shape) +
                            " has a different element count (shape " +
                            shapeStr(value.shape) + ")");
      break;
    }
    }
  }

  /// Output names and in-place aliases; returns the inputs outputs alias
  /// (the only inputs kernels may write).
  std::set<int64_t> checkOutputs(const Function &f,
                                 const std::vector<SymbolicCount> &counts,
                                 const std::string &path) const {
    std::set<std::string> names;
    std::set<int64_t> writableInputs;
    for (size_t i = 0; i < f.outputs.size(); ++i) {
      const FunctionOutput &o = f.outputs[i];
      std::string p = path + ".outputs[" + std::to_string(i) + "]";
      if (!names.insert(o.name).second)
        fail(p + ".name", "duplicate output name '" + o.name + "'");
      valueId(f, o.value, p + ".value");
      if (o.aliasInput >= 0) {
        if (o.aliasInput >= int64_t(f.inputs.size()))
          fail(p + ".alias_input",
               "input index " + std::to_string(o.aliasInput) +
                   " out of range (function has " +
                   std::to_string(f.inputs.size()) + " inputs)");
        if (!writableInputs.insert(o.aliasInput).second)
          fail(p + ".alias_input", "input " + std::to_string(o.aliasInput) +
                                       " is the alias of two outputs");
        int64_t iv = f.inputs[o.aliasInput].value;
        if (f.values[iv].dtype != f.values[o.value].dtype ||
            !(counts[iv] == counts[o.value]))
          fail(p + ".alias_input",
               "output value " + std::to_string(o.value) + " (" +
                   dtypeName(f.values[o.value].dtype) + " " +
                   shapeStr(f.values[o.value].shape) +
                   ") does not fit input '" + f.inputs[o.aliasInput].name +
                   "' (" + dtypeName(f.values[iv].dtype) + " " +
                   shapeStr(f.values[iv].shape) + ")");
      }
    }
    return writableInputs;
  }

  /// Kernel ki's name, operand counts, dtypes, writes and attributes.
  void checkKernel(const Function &f, size_t ki,
                   const std::set<int64_t> &writableInputs,
                   const std::string &path) const {
    const Kernel &k = f.kernels[ki];
    std::string p = path + ".kernels[" + std::to_string(ki) + "]";
    const KernelSpec *spec = findSpec(k.kernel);
    if (!spec)
      fail(p + ".kernel", "unknown kernel '" + k.kernel + "'");
    auto arity = [&](const char *what, size_t got, int lo, int hi) {
      if (int64_t(got) < lo || (hi >= 0 && int64_t(got) > hi))
        fail(p + "." + what,
             "kernel '" + k.kernel + "' takes " +
                 (lo == hi ? std::to_string(lo)
                  : hi < 0 ? "at least " + std::to_string(lo)
                           : std::to_string(lo) + ".." + std::to_string(hi)) +
                 " " + what + ", got " + std::to_string(got));
    };
    arity("inputs", k.inputs.size(), spec->minIn, spec->maxIn);
    arity("outputs", k.outputs.size(), spec->minOut, spec->maxOut);
    auto dtypeRule = [](const std::vector<DRule> &rules, size_t i) {
      return rules.empty() ? DRule::Any : rules[std::min(i, rules.size() - 1)];
    };
    auto checkOperand = [&](const char *what, size_t i, int64_t id,
                            bool optional, DRule rule) {
      std::string op = p + "." + what + "[" + std::to_string(i) + "]";
      if (id == -1) {
        if (!optional)
          fail(op, "operand of kernel '" + k.kernel + "' is not optional");
        return;
      }
      valueId(f, id, op);
      DType dt = f.values[id].dtype;
      DType want = DType::F32;
      if (rule == DRule::Any)
        return;
      if (rule == DRule::I32)
        want = DType::I32;
      if (rule == DRule::SameAsIn0) {
        if (k.inputs.empty() || k.inputs[0] < 0)
          return;
        want = f.values[k.inputs[0]].dtype;
      }
      if (dt != want)
        fail(op, std::string("value ") + std::to_string(id) + " is " +
                     dtypeName(dt) + ", kernel '" + k.kernel + "' needs " +
                     dtypeName(want));
    };
    for (size_t i = 0; i < k.inputs.size(); ++i)
      checkOperand("inputs", i, k.inputs[i], contains(spec->optionalIn, i),
                   dtypeRule(spec->inTypes, i));
    std::set<int64_t> written;
    for (size_t i = 0; i < k.outputs.size(); ++i) {
      checkOperand("outputs", i, k.outputs[i], contains(spec->optionalOut, i),
                   dtypeRule(spec->outTypes, i));
      if (k.outputs[i] < 0)
        continue;
      if (!written.insert(k.outputs[i]).second)
        fail(p + ".outputs[" + std::to_string(i) + "]",
             "value " + std::to_string(k.outputs[i]) +
                 " is written twice by one kernel");
      int64_t in = rootInput(f, k.outputs[i]);
      if (in >= 0 && !writableInputs.count(in))
        fail(p + ".outputs[" + std::to_string(i) + "]",
             "writes into input '" + f.inputs[in].name +
                 "', which no function output aliases (read-only)");
    }
    checkAttrs(k, *spec, p);
    if (k.kernel == kernelName(KernelId::AllReduce))
      checkAllReduce(f, k, p);
    if (k.kernel == kernelName(KernelId::Elementwise)) {
      checkProgram(k, p);
      checkSpirv(k, p);
    }
  }

  /// all_reduce reduces in place: output i is a view of input i, and the
  /// reduction is one the runtime knows.
  void checkAllReduce(const Function &f, const Kernel &k,
                      const std::string &p) const {
    const std::string reduction = k.attrs.at("reduction").get<std::string>();
    if (reduction != "sum" && reduction != "mean")
      fail(p + ".attrs.reduction",
           "expected \"sum\" or \"mean\", got \"" + reduction + "\"");
    if (k.inputs.size() != k.outputs.size())
      fail(p + ".outputs", "all_reduce needs one output per input");
    for (size_t i = 0; i < k.outputs.size(); ++i) {
      const Storage &s = f.values[k.outputs[i]].storage;
      if (s.kind != StorageKind::Alias || s.of != k.inputs[i])
        fail(p + ".outputs[" + std::to_string(i) + "]",
             "all_reduce output must be an alias of input " +
                 std::to_string(i) + " (it reduces in place)");
      for (int64_t d : f.values[k.inputs[i]].shape)
        if (d < 0)
          fail(p + ".inputs[" + std::to_string(i) + "]",
               "all_reduce reduces static shapes only (every rank passes "
               "the same element count)");
    }
  }

  /// Shapes, at a probe binding of B, T and N (the executor checks again
  /// for the real ones).
  void checkShapesAtProbe(const Function &f, const std::string &path) const {
    const int64_t nv = static_cast<int64_t>(f.values.size());
    const int64_t probeB = 7, probeT = 13, probeN = 5;
    std::vector<Shape> shapes(nv);
    for (int64_t v = 0; v < nv; ++v) {
      try {
        shapes[v] = bindShape(f.values[v].shape, probeB, probeT, probeN);
      } catch (const ArtifactError &e) {
        fail(path + ".values[" + std::to_string(v) + "].shape", e.what());
      }
    }
    for (size_t ki = 0; ki < f.kernels.size(); ++ki) {
      std::string err = checkKernelShapes(f, f.kernels[ki], shapes);
      if (!err.empty()) {
        std::ostringstream os;
        os << err << " (shapes:";
        auto list = [&](const std::vector<int64_t> &ids) {
          for (int64_t id : ids)
            os << ' ' << (id < 0 ? "-" : shapeStr(f.values[id].shape));
        };
        list(f.kernels[ki].inputs);
        os << " ->";
        list(f.kernels[ki].outputs);
        os << ")";
        fail(path + ".kernels[" + std::to_string(ki) + "]",
             "kernel '" + f.kernels[ki].kernel + "': " + os.str());
      }
    }
  }
};

} // namespace

namespace detail {
/// Decodes attrs.program of an `elementwise` kernel (schema only; register
/// ids are checked by validateArtifact).
EwProgram decodeProgram(const json &program, const std::string &path,
                        const std::string &source) {
  auto fail = [&](const std::string &p, const std::string &what) {
    throw ArtifactError(source + ": " + p + ": " + what);
  };
  auto reg = [&](const json &v, const std::string &p) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        v.get<int64_t>() > (int64_t(1) << 30))
      fail(p, "expected a register id (integer >= 0), got " + v.dump());
    return static_cast<int>(v.get<int64_t>());
  };
  EwProgram out;
  if (!program.is_object())
    fail(path, "expected an object");
  for (auto it = program.begin(); it != program.end(); ++it)
    if (it.key() != "instructions" && it.key() != "outputs")
      fail(path, "unknown field '" + it.key() + "'");
  if (!program.contains("instructions") || !program["instructions"].is_array())
    fail(path + ".instructions", "missing or not an array");
  if (!program.contains("outputs") || !program["outputs"].is_array())
    fail(path + ".outputs", "missing or not an array");
  const json &ins = program["instructions"];
  for (size_t i = 0; i < ins.size(); ++i) {
    std::string p = path + ".instructions[" + std::to_string(i) + "]";
    const json &j = ins[i];
    if (!j.is_object())
      fail(p, "expected an object");
    if (!j.contains("op") || !j["op"].is_string())
      fail(p + ".op", "missing or not a string");
    std::string op = j["op"].get<std::string>();
    std::optional<EwOp> found = ewOpByName(op);
    if (!found)
      fail(p + ".op", "unknown elementwise op '" + op + "'");
    EwInstruction instr;
    instr.op = *found;
    const char *param = ewOpInfo(instr.op).param;
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.key() != "op" && it.key() != "args" &&
          !(param && it.key() == param))
        fail(p, "unknown field '" + it.key() + "' for op '" + op + "'");
    if (!j.contains("args") || !j["args"].is_array())
      fail(p + ".args", "missing or not an array");
    for (size_t a = 0; a < j["args"].size(); ++a)
      instr.args.push_back(
          reg(j["args"][a], p + ".args[" + std::to_string(a) + "]"));
    if (param) {
      if (!j.contains(param) || !isFloatAttr(j[param]))
        fail(p + "." + param, "missing or not a number");
      instr.param = toFloat(j[param]);
    }
    out.instructions.push_back(std::move(instr));
  }
  const json &outs = program["outputs"];
  for (size_t o = 0; o < outs.size(); ++o)
    out.outputs.push_back(
        reg(outs[o], path + ".outputs[" + std::to_string(o) + "]"));
  return out;
}
} // namespace detail

SymbolicCount symbolicCount(const std::vector<int64_t> &shape) {
  SymbolicCount c;
  for (int64_t d : shape) {
    if (d == kDimBatch) {
      ++c.batchPower;
    } else if (d == kDimSequence) {
      ++c.seqPower;
    } else if (d == kDimPool) {
      ++c.poolPower;
    } else {
      if (d < 0)
        throw ArtifactError("invalid dim " + std::to_string(d));
      if (d != 0 && c.factor > kMaxElements / d)
        throw ArtifactError("shape " + shapeStr(shape) +
                            " has more than 2^48 elements");
      c.factor *= d;
    }
  }
  return c;
}

std::vector<int64_t> bindShape(const std::vector<int64_t> &shape, int64_t B,
                               int64_t T, int64_t N) {
  std::vector<int64_t> out(shape);
  int64_t total = 1;
  for (int64_t &d : out) {
    if (d == kDimBatch)
      d = B;
    else if (d == kDimSequence)
      d = T;
    else if (d == kDimPool && N >= 0)
      d = N;
    else if (d == kDimPool)
      throw ArtifactError("shape " + shapeStr(shape) +
                          " has the KV pool size N (-3), which is not bound");
    else if (d < 0)
      throw ArtifactError("invalid dim " + std::to_string(d));
    if (d != 0 && total > kMaxElements / d)
      throw ArtifactError("shape " + shapeStr(shape) +
                          " has more than 2^48 elements");
    total *= d;
  }
  return out;
}

int64_t numElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

float attrFloat(const Kernel &k, const char *name, float fallback) {
  auto it = k.attrs.find(name);
  return it == k.attrs.end() || !isFloatAttr(*it) ? fallback : toFloat(*it);
}

bool attrBool(const Kernel &k, const char *name, bool fallback) {
  auto it = k.attrs.find(name);
  return it == k.attrs.end() || !it->is_boolean() ? fallback : it->get<bool>();
}

int64_t attrInt(const Kernel &k, const char *name, int64_t fallback) {
  auto it = k.attrs.find(name);
  return it == k.attrs.end() || !it->is_number_integer() ? fallback
                                                         : it->get<int64_t>();
}

std::vector<int64_t> attrInts(const Kernel &k, const char *name) {
  std::vector<int64_t> out;
  auto it = k.attrs.find(name);
  if (it != k.attrs.end() && it->is_array())
    for (const json &x : *it)
      if (x.is_number_integer())
        out.push_back(x.get<int64_t>());
  return out;
}

namespace {
/// The shape rule of each kernel over concrete shapes, one member per rule
/// (kernels that share a rule share a member); check() dispatches on the
/// registry id. CHECK / REQUIRE return the first violation.
class ShapeRules {
public:
  ShapeRules(const Kernel &k, const std::vector<std::vector<int64_t>> &shapes)
      : k(k), shapes(shapes), name(k.kernel) {}

  std::string check() {
    std::optional<KernelId> id = kernelByName(name);
    if (!id)
      return "";
    switch (*id) {
    case KernelId::Embedding:
      return ruleEmbedding();
    case KernelId::EmbeddingGrad:
      return ruleEmbedding();
    case KernelId::PositionEmbedding:
      return rulePositionEmbedding();
    case KernelId::Rope:
      return ruleRope();
    case KernelId::KvCacheWrite:
      return ruleKvCacheWrite();
    case KernelId::PagedAttention:
      return ruleKvCacheWrite();
    case KernelId::TakeLast:
      return ruleTakeLast();
    case KernelId::PositionEmbeddingGrad:
      return rulePositionEmbeddingGrad();
    case KernelId::Layernorm:
      return ruleLayernorm();
    case KernelId::LayernormGrad:
      return ruleLayernorm();
    case KernelId::Linear:
      return ruleLinear();
    case KernelId::LinearWeightGrad:
      return ruleLinearWeightGrad();
    case KernelId::Matmul:
      return ruleMatmul();
    case KernelId::Split:
      return ruleSplit();
    case KernelId::Concat:
      return ruleSplit();
    case KernelId::Transpose:
      return ruleTranspose();
    case KernelId::Softmax:
      return ruleSoftmax();
    case KernelId::SoftmaxGrad:
      return ruleSoftmax();
    case KernelId::ScaledMaskedSoftmax:
      return ruleScaledMaskedSoftmax();
    case KernelId::CausalMask:
      return ruleScaledMaskedSoftmax();
    case KernelId::Attention:
      return ruleAttention();
    case KernelId::AttentionQkv:
      return ruleAttention();
    case KernelId::AttentionGrad:
      return ruleAttention();
    case KernelId::AttentionQkvGrad:
      return ruleAttention();
    case KernelId::CrossEntropy:
      return ruleCrossEntropy();
    case KernelId::CrossEntropyGrad:
      return ruleCrossEntropy();
    case KernelId::Elementwise:
      return ruleElementwise();
    case KernelId::SumLeading:
      return ruleSumLeading();
    case KernelId::Copy:
      return ruleCopy();
    case KernelId::Fill:
      return ruleFill();
    case KernelId::GlobalNorm:
      return ruleGlobalNorm();
    case KernelId::LrSchedule:
      return ruleLrSchedule();
    case KernelId::Adamw:
      return ruleAdamw();
    case KernelId::AllReduce:
      return ruleAllReduce();
    default:
      return "";
    }
  }

private:
  const Shape &in(size_t i) const {
    return i < k.inputs.size() && k.inputs[i] >= 0 ? shapes[k.inputs[i]]
                                                   : kNone;
  }
  const Shape &out(size_t i) const {
    return i < k.outputs.size() && k.outputs[i] >= 0 ? shapes[k.outputs[i]]
                                                     : kNone;
  }
  bool hasIn(size_t i) const { return i < k.inputs.size() && k.inputs[i] >= 0; }
  bool hasOut(size_t i) const {
    return i < k.outputs.size() && k.outputs[i] >= 0;
  }
  static std::string str(const Shape &s) {
    std::string o = "[";
    for (size_t i = 0; i < s.size(); ++i)
      o += (i ? ", " : "") + std::to_string(s[i]);
    return o + "]";
  }
  static Shape leading(const Shape &s) {
    return s.empty() ? s : Shape(s.begin(), s.end() - 1);
  }
  static Shape cat(Shape s, std::initializer_list<int64_t> tail) {
    s.insert(s.end(), tail);
    return s;
  }
  static std::string expect(const Shape &got, const Shape &want,
                            const std::string &what) {
    if (got != want)
      return what + " has shape " + str(got) + ", expected " + str(want);
    return "";
  }
  static bool normAxis(int64_t axis, size_t rank, int64_t &out) {
    if (axis < 0)
      axis += int64_t(rank);
    out = axis;
    return axis >= 0 && axis < int64_t(rank);
  }

#define CHECK(x)                                                               \
  do {                                                                         \
    e = (x);                                                                   \
    if (!e.empty())                                                            \
      return e;                                                                \
  } while (0)
#define REQUIRE(cond, msg)                                                     \
  do {                                                                         \
    if (!(cond))                                                               \
      return std::string(msg);                                                 \
  } while (0)

  std::string ruleEmbedding() {
    bool grad = name == kernelName(KernelId::EmbeddingGrad);
    const Shape &table = grad ? out(0) : in(0);
    REQUIRE(table.size() == 2, "table must be [V, D], got " + str(table));
    const Shape &ids = in(1);
    const Shape &rows = grad ? in(0) : out(0);
    CHECK(expect(rows, cat(ids, {table[1]}), grad ? "dy" : "y"));
    return "";
  }

  std::string rulePositionEmbedding() {
    REQUIRE(in(0).size() == 2, "table must be [C, D], got " + str(in(0)));
    REQUIRE(in(1).size() == 2, "ids must be [B, T], got " + str(in(1)));
    if (hasIn(2))
      CHECK(expect(in(2), {in(1)[0]}, "start"));
    CHECK(expect(out(0), {in(1)[0], in(1)[1], in(0)[1]}, "y"));
    return "";
  }

  std::string ruleRope() {
    const Shape &x = in(0);
    REQUIRE(x.size() == 3, "x must be [B, T, D], got " + str(x));
    int64_t hd = attrInt(k, "head_dim"), cols = attrInt(k, "columns");
    REQUIRE(hd > 0 && hd % 2 == 0,
            "head_dim must be even and > 0, got " + std::to_string(hd));
    REQUIRE(cols > 0 && cols % hd == 0 && cols <= x[2],
            "columns " + std::to_string(cols) +
                " must be a multiple of head_dim within D = " +
                std::to_string(x[2]));
    float theta = attrFloat(k, "theta");
    REQUIRE(theta > 1.0f && std::isfinite(theta),
            "theta must be a finite number > 1");
    if (hasIn(1))
      CHECK(expect(in(1), {x[0]}, "start"));
    CHECK(expect(out(0), x, "y"));
    return "";
  }

  std::string ruleKvCacheWrite() {
    bool attn = name == kernelName(KernelId::PagedAttention);
    const Shape &cache = in(attn ? 1 : 0), &x = in(attn ? 0 : 1);
    REQUIRE(cache.size() == 3, "cache must be [N, BS, D], got " + str(cache));
    REQUIRE(x.size() == 3 && x[2] == cache[2],
            std::string(attn ? "q" : "new") + " must be [B, T, " +
                std::to_string(cache[2]) + "], got " + str(x));
    if (attn) {
      CHECK(expect(in(2), cache, "v_cache"));
      int64_t H = attrInt(k, "num_heads");
      REQUIRE(H > 0 && x[2] % H == 0,
              "num_heads " + std::to_string(H) +
                  " does not divide D = " + std::to_string(x[2]));
    }
    const Shape &table = in(attn ? 3 : 2);
    REQUIRE(table.size() == 2 && table[0] == x[0],
            "block_table must be [B, NB] with B = " + std::to_string(x[0]) +
                ", got " + str(table));
    CHECK(expect(in(attn ? 4 : 3), {x[0]}, "start"));
    CHECK(expect(out(0), attn ? x : cache, attn ? "o" : "cache'"));
    return "";
  }

  std::string ruleTakeLast() {
    const Shape &x = in(0);
    REQUIRE(x.size() == 3, "x must be [B, T, D], got " + str(x));
    CHECK(expect(out(0), {x[0], x[2]}, "y"));
    return "";
  }

  std::string rulePositionEmbeddingGrad() {
    REQUIRE(out(0).size() == 2, "dtable must be [C, D], got " + str(out(0)));
    REQUIRE(in(0).size() == 3 && in(0)[2] == out(0)[1],
            "dy must be [B, T, D] with D = " + std::to_string(out(0)[1]) +
                ", got " + str(in(0)));
    return "";
  }

  std::string ruleLayernorm() {
    bool grad = name == kernelName(KernelId::LayernormGrad);
    const Shape &x = grad ? in(1) : in(0);
    REQUIRE(!x.empty(), "x must have rank >= 1");
    Shape d{x.back()};
    CHECK(expect(grad ? in(2) : in(1), d, "gamma"));
    if (!grad && hasIn(2))
      CHECK(expect(in(2), d, "beta"));
    if (grad) {
      CHECK(expect(in(0), x, "dy"));
      CHECK(expect(out(0), x, "dx"));
      if (hasOut(1))
        CHECK(expect(out(1), d, "dgamma"));
      if (hasOut(2))
        CHECK(expect(out(2), d, "dbeta"));
    } else {
      CHECK(expect(out(0), x, "y"));
    }
    return "";
  }

  std::string ruleLinear() {
    const Shape &x = in(0), &w = in(1);
    REQUIRE(!x.empty(), "x must have rank >= 1");
    REQUIRE(w.size() == 2, "weight must be 2-d, got " + str(w));
    bool tw = attrBool(k, "transpose_weight");
    int64_t K = tw ? w[1] : w[0], N = tw ? w[0] : w[1];
    REQUIRE(x.back() == K, "x has " + std::to_string(x.back()) +
                               " features, weight " + str(w) +
                               (tw ? " (transposed)" : "") + " expects " +
                               std::to_string(K));
    if (hasIn(2))
      CHECK(expect(in(2), {N}, "bias"));
    CHECK(expect(out(0), cat(leading(x), {N}), "y"));
    return "";
  }

  std::string ruleLinearWeightGrad() {
    const Shape &x = in(0), &dy = in(1);
    REQUIRE(!x.empty() && !dy.empty(), "x and dy must have rank >= 1");
    REQUIRE(numElements(leading(x)) == numElements(leading(dy)),
            "x " + str(x) + " and dy " + str(dy) +
                " have different row counts");
    bool tw = attrBool(k, "transpose_weight");
    CHECK(expect(out(0),
                 tw ? Shape{dy.back(), x.back()} : Shape{x.back(), dy.back()},
                 "dW"));
    return "";
  }

  std::string ruleMatmul() {
    const Shape &a = in(0), &b = in(1);
    REQUIRE(a.size() >= 2 && b.size() >= 2, "operands must have rank >= 2");
    bool tl = attrBool(k, "transpose_lhs"), tr = attrBool(k, "transpose_rhs");
    size_t ra = a.size(), rb = b.size();
    int64_t M = tl ? a[ra - 1] : a[ra - 2], K = tl ? a[ra - 2] : a[ra - 1];
    int64_t Kb = tr ? b[rb - 1] : b[rb - 2], N = tr ? b[rb - 2] : b[rb - 1];
    REQUIRE(K == Kb, "contraction sizes differ: " + str(a) + " x " + str(b));
    Shape batchA(a.begin(), a.end() - 2), batchB(b.begin(), b.end() - 2);
    REQUIRE(rb == 2 || batchA == batchB,
            "batch dims differ: " + str(a) + " x " + str(b));
    batchA.push_back(M);
    batchA.push_back(N);
    CHECK(expect(out(0), batchA, "c"));
    return "";
  }

  std::string ruleSplit() {
    bool split = name == kernelName(KernelId::Split);
    const Shape &whole = split ? in(0) : out(0);
    int64_t axis;
    REQUIRE(normAxis(attrInt(k, "axis"), whole.size(), axis),
            "axis " + std::to_string(attrInt(k, "axis")) +
                " out of range for rank " + std::to_string(whole.size()));
    size_t parts = split ? k.outputs.size() : k.inputs.size();
    int64_t sum = 0;
    for (size_t i = 0; i < parts; ++i) {
      const Shape &s = split ? out(i) : in(i);
      REQUIRE(s.size() == whole.size(),
              "part " + std::to_string(i) + " " + str(s) +
                  " has a different rank than " + str(whole));
      for (size_t d = 0; d < s.size(); ++d)
        REQUIRE(int64_t(d) == axis || s[d] == whole[d],
                "part " + std::to_string(i) + " " + str(s) +
                    " does not match " + str(whole) + " off the axis");
      sum += s[axis];
    }
    REQUIRE(sum == whole[axis], "parts along axis " + std::to_string(axis) +
                                    " sum to " + std::to_string(sum) +
                                    ", expected " +
                                    std::to_string(whole[axis]));
    return "";
  }

  std::string ruleTranspose() {
    std::vector<int64_t> perm = attrInts(k, "permutation");
    const Shape &x = in(0);
    REQUIRE(perm.size() == x.size(),
            "permutation has " + std::to_string(perm.size()) +
                " entries for rank " + std::to_string(x.size()));
    std::vector<bool> seen(x.size(), false);
    Shape y;
    for (int64_t p : perm) {
      REQUIRE(p >= 0 && p < int64_t(x.size()) && !seen[p],
              "permutation is not a permutation of 0.." +
                  std::to_string(x.size()));
      seen[p] = true;
      y.push_back(x[p]);
    }
    CHECK(expect(out(0), y, "y"));
    return "";
  }

  std::string ruleSoftmax() {
    const Shape &x = in(0);
    int64_t axis;
    REQUIRE(normAxis(attrInt(k, "axis"), x.size(), axis),
            "axis out of range for rank " + std::to_string(x.size()));
    if (name == kernelName(KernelId::SoftmaxGrad))
      CHECK(expect(in(1), x, "y"));
    CHECK(expect(out(0), x, "output"));
    return "";
  }

  std::string ruleScaledMaskedSoftmax() {
    REQUIRE(in(0).size() >= 2, "x must be [..., T, S]");
    CHECK(expect(out(0), in(0), "y"));
    return "";
  }

  std::string ruleAttention() {
    bool packed = name == kernelName(KernelId::AttentionQkv) ||
                  name == kernelName(KernelId::AttentionQkvGrad);
    bool grad = name == kernelName(KernelId::AttentionGrad) ||
                name == kernelName(KernelId::AttentionQkvGrad);
    const Shape &q = grad ? in(1) : in(0);
    REQUIRE(q.size() == 3, "q must be [B, T, D], got " + str(q));
    int64_t B = q[0], T = q[1], D = packed ? q[2] / 3 : q[2];
    REQUIRE(!packed || q[2] % 3 == 0,
            "qkv last dim " + std::to_string(q[2]) + " is not 3*D");
    int64_t H = attrInt(k, "num_heads");
    REQUIRE(H > 0 && D % H == 0,
            "num_heads " + std::to_string(H) +
                " does not divide D = " + std::to_string(D));
    Shape o{B, T, D}, lse{B, H, T};
    int64_t S = T;
    Shape kShape = q;
    if (!packed) {
      const Shape &kk = grad ? in(2) : in(1), &v = grad ? in(3) : in(2);
      kShape = kk;
      REQUIRE(kk.size() == 3 && kk[0] == B && kk[2] == D,
              "k must be [B, S, D], got " + str(kk));
      S = kk[1];
      CHECK(expect(v, kk, "v"));
      REQUIRE(S >= T, "k/v length " + std::to_string(S) +
                          " is shorter than the query length " +
                          std::to_string(T));
    }
    if (grad) {
      CHECK(expect(in(0), o, "do"));
      CHECK(expect(in(packed ? 2 : 4), o, "o"));
      CHECK(expect(in(packed ? 3 : 5), lse, "lse"));
      for (size_t i = 0; i < k.outputs.size(); ++i)
        if (hasOut(i))
          CHECK(expect(out(i), i == 0 ? q : kShape,
                       "gradient " + std::to_string(i)));
    } else {
      CHECK(expect(out(0), o, "o"));
      if (hasOut(1))
        CHECK(expect(out(1), lse, "lse"));
    }
    return "";
  }

  std::string ruleCrossEntropy() {
    bool grad = name == kernelName(KernelId::CrossEntropyGrad);
    size_t base = grad ? 1 : 0;
    const Shape &logits = in(base);
    REQUIRE(!logits.empty(), "logits must have rank >= 1");
    CHECK(expect(in(base + 1), leading(logits), "targets"));
    if (hasIn(base + 2))
      CHECK(expect(in(base + 2), leading(logits), "weights"));
    if (grad) {
      REQUIRE(numElements(in(0)) == 1, "dloss must be a scalar");
      CHECK(expect(out(0), logits, "dlogits"));
    } else {
      REQUIRE(numElements(out(0)) == 1, "loss must be a scalar");
    }
    return "";
  }

  std::string ruleElementwise() {
    const Shape &s = out(0);
    for (size_t i = 1; i < k.outputs.size(); ++i)
      CHECK(expect(out(i), s, "output " + std::to_string(i)));
    for (size_t i = 0; i < k.inputs.size(); ++i) {
      const Shape &x = in(i);
      REQUIRE(x.size() <= s.size() &&
                  std::equal(x.begin(), x.end(), s.end() - x.size()),
              "input " + std::to_string(i) + " " + str(x) +
                  " is not a suffix of the output shape " + str(s));
    }
    return "";
  }

  std::string ruleSumLeading() {
    const Shape &x = in(0), &y = out(0);
    REQUIRE(y.size() <= x.size() &&
                std::equal(y.begin(), y.end(), x.end() - y.size()),
            "y " + str(y) + " is not a suffix of x " + str(x));
    return "";
  }

  std::string ruleCopy() {
    REQUIRE(numElements(in(0)) == numElements(out(0)),
            "x " + str(in(0)) + " and y " + str(out(0)) +
                " have different element counts");
    return "";
  }

  std::string ruleFill() {
    // any shape
    return "";
  }

  std::string ruleGlobalNorm() {
    REQUIRE(numElements(out(0)) == 1, "norm must be a scalar");
    return "";
  }

  std::string ruleLrSchedule() {
    REQUIRE(numElements(in(0)) == 1, "step must be a scalar");
    CHECK(expect(in(1), {9}, "hparams"));
    REQUIRE(numElements(out(0)) == 1, "lr must be a scalar");
    return "";
  }

  std::string ruleAllReduce() {
    for (size_t i = 0; i < k.inputs.size(); ++i) {
      REQUIRE(in(i) == out(i), "output " + std::to_string(i) + " " +
                                   str(out(i)) + " is not shaped like input " +
                                   str(in(i)));
    }
    return "";
  }

  std::string ruleAdamw() {
    const Shape &p = in(0);
    for (int i : {1, 2, 3})
      REQUIRE(numElements(in(i)) == numElements(p),
              "operand " + std::to_string(i) + " " + str(in(i)) +
                  " does not match the parameter " + str(p));
    REQUIRE(numElements(in(4)) == 1, "lr must be a scalar");
    if (hasIn(5))
      REQUIRE(numElements(in(5)) == 1, "norm must be a scalar");
    REQUIRE(numElements(in(6)) == 1, "step must be a scalar");
    CHECK(expect(in(7), {9}, "hparams"));
    for (int i : {0, 1, 2})
      REQUIRE(numElements(out(i)) == numElements(p),
              "output " + std::to_string(i) + " does not match the parameter");
    return "";
  }

#undef CHECK
#undef REQUIRE

  static inline const Shape kNone;
  const Kernel &k;
  const std::vector<std::vector<int64_t>> &shapes;
  const std::string &name;
  std::string e;
};
} // namespace

std::string checkKernelShapes(const Function &, const Kernel &k,
                              const std::vector<std::vector<int64_t>> &shapes) {
  return ShapeRules(k, shapes).check();
}

void validateArtifact(const Artifact &artifact, const std::string &source) {
  Checker c{artifact, source};
  if (artifact.format != 1)
    c.fail("format", "unsupported format " + std::to_string(artifact.format));
  if (!isKnownTarget(artifact.target))
    c.fail("target",
           "unknown target '" + artifact.target + "' (cpu or vulkan)");
  std::set<std::string> names;
  for (size_t i = 0; i < artifact.functions.size(); ++i) {
    std::string p = "functions[" + std::to_string(i) + "]";
    if (!names.insert(artifact.functions[i].name).second)
      c.fail(p + ".name",
             "duplicate function name '" + artifact.functions[i].name + "'");
    c.checkFunction(artifact.functions[i], p);
  }
}

} // namespace gpt
