//===- Unicode.cpp --------------------------------------------------------===//
#include "runtime/tokenizer/Unicode.h"

#include "runtime/tokenizer/UnicodeTables.h"

#include <algorithm>
#include <array>
#include <memory>

namespace gpt::tokenizer {
namespace {

using unicode_tables::CodeRange;

bool inRanges(const CodeRange *ranges, std::size_t count, std::uint32_t cp) {
  const CodeRange *end = ranges + count;
  const CodeRange *it = std::upper_bound(
      ranges, end, cp,
      [](std::uint32_t value, const CodeRange &r) { return value < r.first; });
  if (it == ranges)
    return false;
  --it;
  return cp <= it->last;
}

CharClass classifySlow(std::uint32_t cp) {
  using namespace unicode_tables;
  if (inRanges(kLetterRanges, kLetterRangesCount, cp))
    return CharClass::Letter;
  if (inRanges(kNumberRanges, kNumberRangesCount, cp))
    return CharClass::Number;
  if (inRanges(kSpaceRanges, kSpaceRangesCount, cp))
    return CharClass::Space;
  return CharClass::Other;
}

// Dense table for the Basic Multilingual Plane, built once.
const std::array<std::uint8_t, 0x10000> &bmpTable() {
  static const std::unique_ptr<std::array<std::uint8_t, 0x10000>> table = [] {
    auto t = std::make_unique<std::array<std::uint8_t, 0x10000>>();
    for (std::uint32_t cp = 0; cp < 0x10000; ++cp)
      (*t)[cp] = static_cast<std::uint8_t>(classifySlow(cp));
    return t;
  }();
  return *table;
}

} // namespace

namespace detail {
#define O 0
#define L 1
#define N 2
#define S 3
// clang-format off
const std::uint8_t kAsciiClass[128] = {
    O, O, O, O, O, O, O, O, O, S, S, S, S, S, O, O, // 0x00
    O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, // 0x10
    S, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, // 0x20
    N, N, N, N, N, N, N, N, N, N, O, O, O, O, O, O, // 0x30
    O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, // 0x40
    L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O, // 0x50
    O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, // 0x60
    L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O, // 0x70
};
// clang-format on
#undef O
#undef L
#undef N
#undef S

Decoded decodeNonAscii(std::string_view text, std::size_t pos) {
  const auto *s = reinterpret_cast<const unsigned char *>(text.data());
  std::size_t avail = text.size() - pos;
  unsigned char c = s[pos];
  std::uint32_t cp;
  std::uint8_t len;
  std::uint32_t minCp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, cp = c & 0x1F, minCp = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, cp = c & 0x0F, minCp = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, cp = c & 0x07, minCp = 0x10000;
  } else {
    return {CharClass::Other, 1};
  }
  if (avail < len)
    return {CharClass::Other, 1};
  for (std::uint8_t i = 1; i < len; ++i) {
    unsigned char cc = s[pos + i];
    if ((cc & 0xC0) != 0x80)
      return {CharClass::Other, 1};
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < minCp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return {CharClass::Other, 1};
  return {classifyCodePoint(cp), len};
}
} // namespace detail

CharClass classifyCodePoint(std::uint32_t cp) {
  if (cp < 0x10000)
    return static_cast<CharClass>(bmpTable()[cp]);
  return classifySlow(cp);
}

} // namespace gpt::tokenizer
