//===- KernelRegistry.h - Kernel ids and names ------------------*- C++ -*-===//
//
// The artifact's kernels as an enum and their names, both expanded from
// Kernels.def. Header-only and MLIR-free: the compiler and the runtime
// include the same list.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace gpt {

enum class KernelId : std::uint8_t {
#define GPT_KERNEL(id, name) id,
#include "schema/Kernels.def"
  Count
};

inline constexpr const char *kKernelNames[] = {
#define GPT_KERNEL(id, name) name,
#include "schema/Kernels.def"
};

constexpr const char *kernelName(KernelId id) {
  return kKernelNames[static_cast<std::size_t>(id)];
}

/// The kernel called `name`, if the registry has one.
inline std::optional<KernelId> kernelByName(std::string_view name) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(KernelId::Count); ++i)
    if (name == kKernelNames[i])
      return static_cast<KernelId>(i);
  return std::nullopt;
}

} // namespace gpt
