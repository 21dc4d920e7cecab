//===- ElementwiseProgram.h - the `elementwise` program format --*- C++ -*-===//
//
// A fused elementwise kernel carries a small register program: registers
// 0..n-1 are the kernel's inputs (one row each, trailing broadcast), each
// instruction defines the next register, and `outputs` names the registers
// written out. This header is the one definition of that format: the
// compiler's emitter writes it, the runtime reads and validates it, the CPU
// interpreter runs it and the GLSL generator compiles it. Header-only and
// MLIR-free.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace gpt {

enum class EwOp : std::uint8_t {
#define GPT_EW_OP(id, name, arity, param) id,
#include "schema/ElementwiseOps.def"
};

struct EwOpInfo {
  const char *name;
  std::size_t arity;
  const char *param; ///< the op's float attribute, or nullptr
};

inline constexpr EwOpInfo kEwOps[] = {
#define GPT_EW_OP(id, name, arity, param) {name, arity, param},
#include "schema/ElementwiseOps.def"
};

constexpr const EwOpInfo &ewOpInfo(EwOp op) {
  return kEwOps[static_cast<std::size_t>(op)];
}
constexpr const char *ewOpName(EwOp op) { return ewOpInfo(op).name; }

/// The op called `name`, if the format has one.
inline std::optional<EwOp> ewOpByName(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kEwOps); ++i)
    if (name == kEwOps[i].name)
      return static_cast<EwOp>(i);
  return std::nullopt;
}

struct EwInstruction {
  EwOp op = EwOp::Add;
  std::vector<int> args; ///< register ids
  float param = 0.0f;    ///< the op's parameter (EwOpInfo::param), if any
};

struct EwProgram {
  std::vector<EwInstruction> instructions;
  std::vector<int> outputs; ///< register ids, one per kernel output
};

} // namespace gpt
