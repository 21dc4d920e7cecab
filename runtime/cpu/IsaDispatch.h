//===- IsaDispatch.h - Per-ISA compilation of kernel files (internal) ----===//
//
// A kernel file listed in GPT_CPU_ISA_SOURCES is compiled once per ISA level
// with GPT_CPU_ISA_NS set to scalar, avx2 or avx512. Its kernel code sits
// between GPT_CPU_ISA_BEGIN and GPT_CPU_ISA_END, which open the namespace
// gpt::cpu::<level> and enable the level's instructions for every function
// defined in between (and only those). Include this header after all other
// headers: functions parsed before GPT_CPU_ISA_BEGIN stay baseline code.
//
// The scalar copy (GPT_CPU_ISA_PRIMARY) also defines the public entry points,
// which forward to the active level:
//
//   GPT_CPU_DECLARE_ISA(layernormForward)   // declares the 3 builds
//   void layernormForward(...) { GPT_CPU_DISPATCH(layernormForward)(...); }
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/cpu/Isa.h"

#ifndef GPT_CPU_ISA_NS
#error "IsaDispatch.h is for files compiled per ISA (GPT_CPU_ISA_SOURCES)"
#endif

#define GPT_CPU_ISA_scalar 0
#define GPT_CPU_ISA_avx2 1
#define GPT_CPU_ISA_avx512 2
#define GPT_CPU_ISA_LEVEL_(ns) GPT_CPU_ISA_##ns
#define GPT_CPU_ISA_LEVEL_X(ns) GPT_CPU_ISA_LEVEL_(ns)
/// 0, 1 or 2 for the copy being compiled.
#define GPT_CPU_ISA_LEVEL GPT_CPU_ISA_LEVEL_X(GPT_CPU_ISA_NS)

#if !defined(__GNUC__) || defined(__clang__)
#if GPT_CPU_ISA_LEVEL != 0
#error "per-ISA kernels need GCC's `#pragma GCC target` (see docs)"
#endif
#define GPT_CPU_TARGET_PUSH
#define GPT_CPU_TARGET_POP
#elif GPT_CPU_ISA_LEVEL == 2
// clang-format off
#define GPT_CPU_TARGET_PUSH _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c,prefer-vector-width=512\")")
// clang-format on
#define GPT_CPU_TARGET_POP _Pragma("GCC pop_options")
#elif GPT_CPU_ISA_LEVEL == 1
#define GPT_CPU_TARGET_PUSH                                                    \
  _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,f16c\")")
#define GPT_CPU_TARGET_POP _Pragma("GCC pop_options")
#else
#define GPT_CPU_TARGET_PUSH
#define GPT_CPU_TARGET_POP
#endif

#define GPT_CPU_ISA_BEGIN                                                      \
  GPT_CPU_TARGET_PUSH namespace gpt::cpu::GPT_CPU_ISA_NS {
#define GPT_CPU_ISA_END                                                        \
  }                                                                            \
  GPT_CPU_TARGET_POP

/// Declares gpt::cpu::{scalar,avx2,avx512}::fn with the type of the public
/// gpt::cpu::fn. Use inside namespace gpt::cpu.
#define GPT_CPU_DECLARE_ISA(fn)                                                \
  namespace scalar {                                                           \
  decltype(::gpt::cpu::fn) fn;                                                 \
  }                                                                            \
  namespace avx2 {                                                             \
  decltype(::gpt::cpu::fn) fn;                                                 \
  }                                                                            \
  namespace avx512 {                                                           \
  decltype(::gpt::cpu::fn) fn;                                                 \
  }

/// The build of fn for the active ISA level, as a function pointer.
#define GPT_CPU_DISPATCH(fn)                                                   \
  (::gpt::cpu::activeIsa() == ::gpt::cpu::Isa::Avx512 ? &avx512::fn            \
   : ::gpt::cpu::activeIsa() == ::gpt::cpu::Isa::Avx2 ? &avx2::fn              \
                                                      : &scalar::fn)
