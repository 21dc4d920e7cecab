//===- VulkanShaders.cpp - Compute shaders embedded in Vulkan artifacts ---===//
#include "target/VulkanShaders.h"

#ifdef GPT_HAVE_VULKAN_CODEGEN
#include "target/vulkan/ShaderCompiler.h"
#endif

using namespace mlir;
using namespace mlir::gpt;

LogicalResult ElementwiseShaders::attach(Operation *op, size_t numInputs,
                                         llvm::json::Object &attrs) {
#ifdef GPT_HAVE_VULKAN_CODEGEN
  std::string program;
  llvm::raw_string_ostream os(program);
  os << llvm::json::Value(llvm::json::Object(*attrs.getObject("program")));
  os.flush();
  std::string key = std::to_string(numInputs) + ":" + program;
  auto it = cache.find(key);
  if (it == cache.end()) {
    std::string base64, error;
    if (!::gpt::vk::compileElementwiseProgram(program, numInputs, base64,
                                              error))
      return op->emitOpError()
             << "cannot compile the elementwise program for Vulkan: " << error;
    it = cache.insert({key, std::move(base64)}).first;
  }
  attrs["spirv"] = it->second;
  return success();
#else
  (void)numInputs;
  (void)attrs;
  return op->emitOpError() << "target 'vulkan' needs the Vulkan code "
                              "generator: this gptc was built with "
                              "GPT_BUILD_VULKAN=OFF";
#endif
}
