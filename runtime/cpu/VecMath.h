//===- VecMath.h - Branch-free exp/tanh the compiler can vectorize -------===//
//
// libm's expf/tanhf are calls the compiler cannot vectorize; these are plain
// arithmetic (Cephes' expf polynomial, ~2 ulp on [-87, 88]) so that loops
// over them vectorize in every ISA build.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <cstring>

namespace gpt::cpu {

#if defined(__GNUC__)
#define GPT_CPU_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define GPT_CPU_ALWAYS_INLINE inline
#endif

/// e^x in float: relative error about 2 ulp; returns 0 for x < -87.3
/// (including -inf), saturates at e^88.3 for larger x. NaN in gives an
/// unspecified value.
GPT_CPU_ALWAYS_INLINE float expApprox(float x) {
  const float lo = -87.3f, hi = 88.3f;
  float xc = x < lo ? lo : (x > hi ? hi : x);
  // n = round(x / ln2) with the 1.5 * 2^23 trick (round to nearest even).
  const float magic = 12582912.0f;
  float n = (xc * 1.44269504088896341f + magic) - magic;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  float result = p * scale;
  return x < lo ? 0.0f : result;
}

/// tanh(x) = 1 - 2 / (e^{2x} + 1); absolute error about 1e-7.
GPT_CPU_ALWAYS_INLINE float tanhApprox(float x) {
  return 1.0f - 2.0f / (expApprox(2.0f * x) + 1.0f);
}

} // namespace gpt::cpu
