//===- Unicode.h ------------------------------------------------*- C++ -*-===//
//
// Code point classification and lenient UTF-8 decoding for the
// pre-tokenizer. Bytes that do not start a valid UTF-8 sequence decode as a
// single "other" code unit so that arbitrary bytes still round-trip.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gpt::tokenizer {

enum class CharClass : std::uint8_t { Other = 0, Letter, Number, Space };

/// Class of a Unicode scalar value: \p{L}, \p{N}, White_Space or other.
CharClass classifyCodePoint(std::uint32_t cp);

struct Decoded {
  CharClass cls;
  std::uint8_t length; // bytes consumed, 1..4
};

namespace detail {
extern const std::uint8_t kAsciiClass[128];
Decoded decodeNonAscii(std::string_view text, std::size_t pos);
} // namespace detail

/// Decodes the code point starting at text[pos] (pos < text.size()).
/// Invalid or truncated sequences yield {Other, 1}.
inline Decoded decodeAt(std::string_view text, std::size_t pos) {
  unsigned char c = static_cast<unsigned char>(text[pos]);
  if (c < 0x80)
    return {static_cast<CharClass>(detail::kAsciiClass[c]), 1};
  return detail::decodeNonAscii(text, pos);
}

} // namespace gpt::tokenizer
