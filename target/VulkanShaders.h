//===- VulkanShaders.h ------------------------------------------*- C++ -*-===//
#ifndef GPT_TARGET_VULKANSHADERS_H
#define GPT_TARGET_VULKANSHADERS_H

#include "mlir/IR/Operation.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/JSON.h"

#include <string>

namespace mlir::gpt {
/// For target "vulkan": compiles each `elementwise` program to SPIR-V
/// (generated GLSL through libshaderc, target/vulkan/ShaderCompiler.h) and
/// stores it as the kernel's "spirv" attribute (base64 of the
/// little-endian words). Identical programs are compiled once per
/// artifact.
class ElementwiseShaders {
public:
  /// `attrs` holds the kernel's "program"; `numInputs` is its input count.
  LogicalResult attach(Operation *op, size_t numInputs,
                       llvm::json::Object &attrs);

private:
  llvm::StringMap<std::string> cache; ///< inputs + program text -> base64
};
} // namespace mlir::gpt

#endif
