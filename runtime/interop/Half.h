//===- Half.h ---------------------------------------------------*- C++ -*-===//
//
// IEEE binary16 and bfloat16 <-> float conversions (round to nearest even;
// NaN stays NaN, overflow becomes infinity, subnormals are kept).
#pragma once

#include <cstdint>
#include <cstring>

namespace gpt::interop {

inline std::uint32_t floatBits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bitsFloat(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float halfToFloat(std::uint16_t h) {
  std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000) << 16;
  std::uint32_t exp = (h >> 10) & 0x1f;
  std::uint32_t man = h & 0x3ff;
  if (exp == 0x1f) // inf / nan
    return bitsFloat(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {
    if (man == 0)
      return bitsFloat(sign);
    // subnormal: man * 2^-24
    float v = static_cast<float>(man) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  return bitsFloat(sign | ((exp + 112) << 23) | (man << 13));
}

inline std::uint16_t floatToHalf(float f) {
  std::uint32_t u = floatBits(f);
  std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000);
  std::uint32_t exp = (u >> 23) & 0xff;
  std::uint32_t man = u & 0x7fffff;
  if (exp == 0xff) // inf / nan (keep nan quiet and non-zero)
    return sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0);
  int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 0x1f)
    return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10)
      return sign; // underflows to zero
    man |= 0x800000;
    int shift = 14 - e;
    std::uint32_t half = man >> shift;
    std::uint32_t rem = man & ((1u << shift) - 1);
    std::uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1)))
      ++half;
    return sign | static_cast<std::uint16_t>(half);
  }
  std::uint32_t half = (static_cast<std::uint32_t>(e) << 10) | (man >> 13);
  std::uint32_t rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
    ++half; // may carry into the exponent, up to infinity: correct
  return sign | static_cast<std::uint16_t>(half);
}

inline float bf16ToFloat(std::uint16_t h) {
  return bitsFloat(static_cast<std::uint32_t>(h) << 16);
}

} // namespace gpt::interop
