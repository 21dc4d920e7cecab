//===- ElementwiseAbi.h - argument layout of `elementwise` shaders -------===//
//
// The compiler (target/vulkan/ElementwiseGlsl.h) turns each `elementwise`
// row program (docs/artifact.md) into a compute shader and embeds its
// SPIR-V in the artifact; the runtime only needs the layout below to fill
// the shader's arguments (it never links the generator or shaderc).
//
// Shader ABI. Push constants: one 64-bit address `args` of an argument
// block of 32-bit words (written by the host through Recorder::constants):
//
//   words[2k], words[2k+1]   low, high half of the address of operand k
//                            (inputs 0..n-1, then outputs 0..m-1)
//   words[2(n+m)]            total = rows * cols (elements of each output)
//   words[2(n+m) + 1]        cols (the last dim of the outputs, >= 1)
//   words[2(n+m) + 2]        rows
//   words[2(n+m) + 3 + i]    numel_i of input i (1 for a 0-d input)
//
// Output element e = r * cols + c reads element (e mod numel_i) of input i.
// Inputs are suffixes of the output shape, so this is exactly the
// broadcast of the docs: [D] reads row 0, [T, D] row r mod T, a 0-d input
// its only element, a full-shaped input element e.
//
// Without layernorm: one thread per element (grid-stride, kEwLocalSize).
// With layernorm (always the last instruction): one workgroup of
// kEwRowLocalSize threads per row (rows looped when the grid is capped);
// three passes over the row recompute the program (sum, squared deviation,
// then the outputs) instead of storing it; reductions are fixed-order trees
// in shared memory (deterministic). Every thread reads element e of a
// full-shaped input before it writes element e of any output, and only
// after the row's reductions: in-place outputs are safe.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/artifact/Artifact.h"

#include <cstddef>
#include <cstdint>

namespace gpt::vk {

constexpr uint32_t kEwLocalSize = 256;    ///< element mode
constexpr uint32_t kEwRowLocalSize = 128; ///< row mode (power of two)

/// True when the program ends in layernorm (one workgroup per row).
inline bool ewRowMode(const EwProgram &program) {
  return !program.instructions.empty() &&
         program.instructions.back().op == EwOp::LayerNorm;
}

/// Words of the argument block.
inline size_t ewArgsWords(size_t numInputs, size_t numOutputs) {
  return 2 * (numInputs + numOutputs) + 3 + numInputs;
}

} // namespace gpt::vk
