//===- ShaderCompiler.h - libshaderc behind a small, exception-free API ---===//
//
// Used at compile time only (gptc's Vulkan target, tests): the runtime
// loads SPIR-V and never links shaderc. No MLIR, no JSON library in this
// header, so the MLIR-side emitter (built without exceptions) can include
// it; failures are reported through `error`, never thrown.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gpt::vk {

/// Compiles a GLSL compute shader for Vulkan 1.2 (optimized for speed).
/// `name` appears in shaderc's messages.
bool compileComputeGlsl(const std::string &source, const std::string &name,
                        std::vector<uint32_t> &spirv, std::string &error);

/// The `elementwise` pipeline of gptc's Vulkan target: the program's JSON
/// text (attrs.program of docs/artifact.md) over `numInputs` inputs ->
/// generated GLSL -> SPIR-V -> base64 of its little-endian words (the
/// kernel's "spirv" attribute).
bool compileElementwiseProgram(const std::string &programJson, size_t numInputs,
                               std::string &spirvBase64, std::string &error);

} // namespace gpt::vk
