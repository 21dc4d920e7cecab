//===- ShaderCompiler.cpp - libshaderc wrapper ----------------------------===//
#include "target/vulkan/ShaderCompiler.h"
#include "schema/KernelRegistry.h"
#include "target/vulkan/ElementwiseGlsl.h"

#include <shaderc/shaderc.h>

#include <cstring>
#include <mutex>
#include <stdexcept>

namespace gpt::vk {

bool compileComputeGlsl(const std::string &source, const std::string &name,
                        std::vector<uint32_t> &spirv, std::string &error) {
  // One compiler for the process: glslang's start-up is the slow part.
  static std::mutex mutex;
  static shaderc_compiler_t compiler = shaderc_compiler_initialize();
  std::lock_guard<std::mutex> lock(mutex);
  if (!compiler) {
    error = "cannot initialize libshaderc";
    return false;
  }
  shaderc_compile_options_t options = shaderc_compile_options_initialize();
  shaderc_compile_options_set_target_env(options, shaderc_target_env_vulkan,
                                         shaderc_env_version_vulkan_1_2);
  shaderc_compile_options_set_optimization_level(
      options, shaderc_optimization_level_performance);
  shaderc_compilation_result_t result = shaderc_compile_into_spv(
      compiler, source.data(), source.size(), shaderc_compute_shader,
      name.c_str(), "main", options);
  bool ok = shaderc_result_get_compilation_status(result) ==
            shaderc_compilation_status_success;
  if (ok) {
    size_t bytes = shaderc_result_get_length(result);
    spirv.resize(bytes / 4);
    std::memcpy(spirv.data(), shaderc_result_get_bytes(result), bytes);
  } else {
    error = "shaderc: " + std::string(shaderc_result_get_error_message(result));
  }
  shaderc_result_release(result);
  shaderc_compile_options_release(options);
  return ok;
}

bool compileElementwiseProgram(const std::string &programJson, size_t numInputs,
                               std::string &spirvBase64, std::string &error) {
  try {
    EwProgram program =
        detail::decodeProgram(nlohmann::json::parse(programJson), "program",
                              kernelName(KernelId::Elementwise));
    // The generator indexes registers blindly: check what it relies on.
    size_t regs = numInputs;
    for (size_t k = 0; k < program.instructions.size(); ++k, ++regs) {
      const EwInstruction &ins = program.instructions[k];
      size_t arity = ewOpInfo(ins.op).arity;
      if (ins.args.size() != arity)
        throw std::runtime_error("instruction " + std::to_string(k) +
                                 ": wrong number of arguments");
      for (int a : ins.args)
        if (a < 0 || size_t(a) >= regs)
          throw std::runtime_error("instruction " + std::to_string(k) +
                                   ": register " + std::to_string(a) +
                                   " is not defined before it");
      if (ins.op == EwOp::LayerNorm && k + 1 != program.instructions.size())
        throw std::runtime_error("layernorm may only be the last instruction");
    }
    if (program.outputs.empty())
      throw std::runtime_error("the program has no outputs");
    for (int o : program.outputs)
      if (o < 0 || size_t(o) >= regs)
        throw std::runtime_error("output register " + std::to_string(o) +
                                 " out of range");
    std::string source = elementwiseGlsl(program, numInputs);
    std::vector<uint32_t> words;
    if (!compileComputeGlsl(source, "elementwise.comp", words, error)) {
      error += "\n--- generated GLSL ---\n" + source;
      return false;
    }
    spirvBase64 = base64Encode(words.data(), words.size() * 4);
    return true;
  } catch (const std::exception &e) {
    error = e.what();
    return false;
  }
}

} // namespace gpt::vk
