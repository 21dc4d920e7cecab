//===- ElementwiseGlsl.cpp - GLSL generator for `elementwise` programs ----===//
#include "target/vulkan/ElementwiseGlsl.h"
#include "schema/KernelRegistry.h"
#include "target/vulkan/ShaderCompiler.h"

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace gpt::vk {
namespace {

// shaders/common.glsl, inlined: gptc has no include path at run time.
const char *const kCommonGlsl =
#include "CommonGlsl.inc"
    ;

/// Exact float literal (also for inf and nan, which GLSL cannot spell).
std::string floatLit(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  char buf[40];
  std::snprintf(buf, sizeof buf, "uintBitsToFloat(0x%08xu)", bits);
  return buf;
}

// The same formulas, in the same order, as the CPU interpreter
// (runtime/executor/Elementwise.cpp): tanh-approximated GELU. The CPU
// writes tanh as 1 - 2 / (e^{2u} + 1), which relies on e^{2u} = inf for
// u > ~44; a driver may assume no inf (no SignedZeroInfNanPreserve), so here
// tanh is (1 - e) / (1 + e) with e = e^{-2|u|} in (0, 1], which never
// overflows and saturates to +-1 (equal to the CPU's within 1e-7).
const char *const kHelpers = R"GLSL(
float gpt_tanh(float u) {
  float e = exp(-2.0 * abs(u));
  float t = (1.0 - e) / (1.0 + e);
  return u < 0.0 ? -t : t;
}
float gpt_gelu(float v) {
  float t = gpt_tanh(0.7978845608028654 * (v + 0.044715 * v * v * v));
  return 0.5 * v * (1.0 + t);
}
float gpt_gelu_grad(float dy, float v) {
  float t = gpt_tanh(0.7978845608028654 * (v + 0.044715 * v * v * v));
  float dt = 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * v * v);
  return dy * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * dt);
}
)GLSL";

struct Generator {
  const EwProgram &p;
  size_t n; ///< inputs

  static std::string r(int reg) { return "r" + std::to_string(reg); }

  /// Statements computing `targets` (and what they depend on) for element
  /// `e`; a trailing layernorm is never computed here (row mode does it).
  std::string compute(const std::vector<int> &targets,
                      const std::string &indent) const {
    size_t nIns = p.instructions.size();
    std::vector<bool> need(n + nIns, false);
    for (int t : targets)
      need[t] = true;
    for (size_t k = nIns; k-- > 0;)
      if (need[n + k] && p.instructions[k].op != EwOp::LayerNorm)
        for (int a : p.instructions[k].args)
          need[a] = true;
    std::string s;
    for (size_t i = 0; i < n; ++i)
      if (need[i])
        s += indent + "float " + r(i) + " = in" + std::to_string(i) +
             ".v[e < n" + std::to_string(i) + " ? e : e % n" +
             std::to_string(i) + "];\n";
    for (size_t k = 0; k < nIns; ++k) {
      const EwInstruction &ins = p.instructions[k];
      if (!need[n + k] || ins.op == EwOp::LayerNorm)
        continue;
      std::string a = r(ins.args[0]);
      std::string b = ins.args.size() > 1 ? r(ins.args[1]) : "";
      std::string v;
      switch (ins.op) {
      case EwOp::Add:
        v = a + " + " + b;
        break;
      case EwOp::Sub:
        v = a + " - " + b;
        break;
      case EwOp::Mul:
        v = a + " * " + b;
        break;
      case EwOp::Scale:
        v = a + " * " + floatLit(ins.param);
        break;
      case EwOp::Neg:
        v = "-" + a;
        break;
      case EwOp::Gelu:
        v = "gpt_gelu(" + a + ")";
        break;
      case EwOp::GeluGrad:
        v = "gpt_gelu_grad(" + a + ", " + b + ")";
        break;
      case EwOp::LayerNorm:
        break;
      }
      s += indent + "float " + r(int(n + k)) + " = " + v + ";\n";
    }
    return s;
  }

  std::string stores(const std::string &indent) const {
    std::string s;
    for (size_t o = 0; o < p.outputs.size(); ++o)
      s += indent + "out" + std::to_string(o) + ".v[e] = " + r(p.outputs[o]) +
           ";\n";
    return s;
  }

  std::string source() const {
    const size_t m = p.outputs.size();
    const bool rowMode = ewRowMode(p);
    std::string s = "#version 460\n";
    s += kCommonGlsl;
    s += "\n// Generated from an `elementwise` program (" + std::to_string(n) +
         " inputs, " + std::to_string(m) +
         " outputs); ABI in runtime/vulkan/ElementwiseAbi.h.\n";
    s += "layout(local_size_x = " +
         std::to_string(rowMode ? kEwRowLocalSize : kEwLocalSize) + ") in;\n";
    s += "layout(buffer_reference, std430, buffer_reference_align = 4) "
         "readonly buffer Args {\n  uint w[];\n};\n";
    s += "layout(push_constant) uniform Push {\n  Args args;\n} p;\n";
    s += kHelpers;
    if (rowMode) {
      s += "shared float red[" + std::to_string(kEwRowLocalSize) + "];\n";
      s += "float rowSum(float v) {\n"
           "  uint t = gl_LocalInvocationID.x;\n"
           "  red[t] = v;\n"
           "  barrier();\n"
           "  for (uint s = " +
           std::to_string(kEwRowLocalSize / 2) +
           "u; s > 0u; s >>= 1) {\n"
           "    if (t < s)\n"
           "      red[t] += red[t + s];\n"
           "    barrier();\n"
           "  }\n"
           "  float r = red[0];\n"
           "  barrier();\n"
           "  return r;\n"
           "}\n";
    }
    s += "uint64_t addr(Args a, uint k) {\n"
         "  return packUint2x32(uvec2(a.w[2u * k], a.w[2u * k + 1u]));\n"
         "}\n";
    s += "void main() {\n  Args a = p.args;\n";
    const std::string H = std::to_string(2 * (n + m));
    s += "  uint total = a.w[" + H + "];\n";
    s += "  uint cols = a.w[" + H + " + 1];\n";
    s += "  uint rows = a.w[" + H + " + 2];\n";
    for (size_t i = 0; i < n; ++i) {
      std::string I = std::to_string(i);
      s += "  F32 in" + I + " = F32(addr(a, " + I + "u));\n";
      s += "  uint n" + I + " = a.w[" + H + " + 3 + " + I + "];\n";
    }
    for (size_t o = 0; o < m; ++o)
      s += "  F32 out" + std::to_string(o) + " = F32(addr(a, " +
           std::to_string(n + o) + "u));\n";
    if (!rowMode) {
      s += "  GRID_STRIDE(e, total) {\n";
      s += compute(p.outputs, "    ");
      s += stores("    ");
      s += "  }\n}\n";
      return s;
    }
    const EwInstruction &ln = p.instructions.back();
    const int lnReg = int(n + p.instructions.size() - 1);
    const std::string x = r(ln.args[0]), g = r(ln.args[1]), b = r(ln.args[2]);
    const std::string L = std::to_string(kEwRowLocalSize);
    const std::string loop = "    for (uint c = gl_LocalInvocationID.x; c < "
                             "cols; c += " +
                             L + "u) {\n      uint e = base + c;\n";
    s += "  for (uint row = gl_WorkGroupID.x; row < rows; row += "
         "gl_NumWorkGroups.x) {\n";
    s += "    uint base = row * cols;\n";
    s += "    float sum = 0.0;\n";
    s += loop + compute({ln.args[0]}, "      ");
    s += "      sum += " + x + ";\n    }\n";
    s += "    float mean = rowSum(sum) / float(cols);\n";
    s += "    float sq = 0.0;\n";
    s += loop + compute({ln.args[0]}, "      ");
    s += "      float d = " + x + " - mean;\n      sq += d * d;\n    }\n";
    s += "    float rstd = 1.0 / sqrt(rowSum(sq) / float(cols) + " +
         floatLit(ln.param) + ");\n";
    std::vector<int> targets(ln.args.begin(), ln.args.end());
    for (int o : p.outputs)
      if (o != lnReg)
        targets.push_back(o);
    s += loop + compute(targets, "      ");
    s += "      float " + r(lnReg) + " = (" + x + " - mean) * rstd * " + g +
         " + " + b + ";\n";
    s += stores("      ");
    s += "    }\n  }\n}\n";
    return s;
  }
};

} // namespace

std::string elementwiseGlsl(const EwProgram &program, size_t numInputs) {
  return Generator{program, numInputs}.source();
}

void attachElementwiseSpirv(nlohmann::json &manifest) {
  for (auto &fn : manifest.at("functions"))
    for (auto &k : fn.at("kernels")) {
      if (k.at("kernel") != kernelName(KernelId::Elementwise))
        continue;
      std::string base64, error;
      if (!compileElementwiseProgram(k.at("attrs").at("program").dump(),
                                     k.at("inputs").size(), base64, error))
        throw std::runtime_error("elementwise kernel: " + error);
      k["attrs"]["spirv"] = base64;
    }
}

} // namespace gpt::vk
