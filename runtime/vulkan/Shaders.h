//===- Shaders.h ------------------------------------------------*- C++ -*-===//
//
// The build-time shaders (shaders/*.comp), embedded as SPIR-V words.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpt::vk {

struct EmbeddedShader {
  const char *name; ///< file name without .comp
  const uint32_t *words;
  size_t wordCount;
};

/// nullptr when there is no shader of that name.
const EmbeddedShader *findShader(const char *name);
size_t shaderCount();
const EmbeddedShader &shaderAt(size_t i);

} // namespace gpt::vk
