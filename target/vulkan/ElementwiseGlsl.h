//===- ElementwiseGlsl.h - Compute shaders for `elementwise` programs -----===//
//
// gptc's Vulkan target turns each `elementwise` row program (docs/artifact.md)
// into a GLSL compute shader (elementwiseGlsl) that follows the argument
// layout of runtime/vulkan/ElementwiseAbi.h, compiles it with libshaderc
// (ShaderCompiler.h) and embeds the SPIR-V in the artifact. MLIR-free: the
// tests link it too.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/artifact/Artifact.h"
#include "runtime/vulkan/ElementwiseAbi.h"

#include <nlohmann/json.hpp>

#include <string>

namespace gpt::vk {

/// The GLSL compute shader of `program` over `numInputs` inputs (version
/// 460 with shaders/common.glsl inlined). The program must be valid
/// (validateArtifact's rules).
std::string elementwiseGlsl(const EwProgram &program, size_t numInputs);

/// For tests and tools that write manifests by hand: compiles every
/// `elementwise` kernel's program and sets its "spirv" attribute (throws
/// std::runtime_error when shaderc fails). Links gpt_vulkan_codegen.
void attachElementwiseSpirv(nlohmann::json &manifest);

} // namespace gpt::vk
