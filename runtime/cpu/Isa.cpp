//===- Isa.cpp - Runtime selection of the SIMD instruction set ------------===//
#include "runtime/cpu/Isa.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace gpt::cpu {

const char *isaName(Isa isa) {
  switch (isa) {
  case Isa::Scalar:
    return "scalar";
  case Isa::Avx2:
    return "avx2";
  case Isa::Avx512:
    return "avx512";
  }
  return "unknown";
}

std::optional<Isa> parseIsa(const std::string &name) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (name == isaName(isa))
      return isa;
  return std::nullopt;
}

Isa detectIsa() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return Isa::Avx2;
#endif
  return Isa::Scalar;
}

bool isaSupported(Isa isa) {
  return static_cast<int>(isa) <= static_cast<int>(detectIsa());
}

namespace {
constexpr int kUnset = -1;
std::atomic<int> currentIsa{kUnset};

Isa initialIsa() {
  Isa isa = detectIsa();
  if (const char *env = std::getenv("GPT_CPU_ISA")) {
    std::optional<Isa> wanted = parseIsa(env);
    if (!wanted)
      throw std::invalid_argument(std::string("GPT_CPU_ISA: unknown level '") +
                                  env + "' (expected scalar, avx2 or avx512)");
    if (static_cast<int>(*wanted) < static_cast<int>(isa))
      isa = *wanted;
  }
  return isa;
}
} // namespace

Isa activeIsa() {
  int v = currentIsa.load(std::memory_order_relaxed);
  if (v == kUnset) {
    v = static_cast<int>(initialIsa());
    currentIsa.store(v, std::memory_order_relaxed);
  }
  return static_cast<Isa>(v);
}

void setIsa(Isa isa) {
  if (!isaSupported(isa))
    throw std::invalid_argument(std::string("setIsa: this CPU does not "
                                            "support ") +
                                isaName(isa));
  currentIsa.store(static_cast<int>(isa), std::memory_order_relaxed);
}

} // namespace gpt::cpu
