//===- Isa.h - Runtime selection of the SIMD instruction set --------------===//
//
// Every kernel exists in three builds: scalar (the x86-64 baseline; the
// compiler may still use SSE2), avx2 (AVX2 + FMA) and avx512 (AVX-512
// F/BW/DQ/VL). The build that runs is chosen at run time:
//
//   activeIsa() = min(detectIsa(), GPT_CPU_ISA environment variable,
//                     the level set by setIsa())
//
// GPT_CPU_ISA is one of `scalar`, `avx2`, `avx512`; it can only lower the
// level (asking for more than the CPU has selects what the CPU has).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <optional>
#include <string>

namespace gpt::cpu {

enum class Isa : int { Scalar = 0, Avx2 = 1, Avx512 = 2 };

/// "scalar", "avx2" or "avx512".
const char *isaName(Isa isa);
/// Parses a name as printed by isaName; std::nullopt if unknown.
std::optional<Isa> parseIsa(const std::string &name);
/// The highest level this CPU (and OS) supports.
Isa detectIsa();
/// The level kernels use now (see the file comment). Throws
/// std::invalid_argument on the first call if GPT_CPU_ISA is set to an
/// unknown name.
Isa activeIsa();
/// Selects a level for the kernels (tests, benchmarks). Throws
/// std::invalid_argument if the CPU does not support it. Not thread-safe
/// with respect to kernels running concurrently.
void setIsa(Isa isa);
/// Whether this CPU supports the level.
bool isaSupported(Isa isa);

} // namespace gpt::cpu
