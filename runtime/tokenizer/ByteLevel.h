//===- ByteLevel.h ----------------------------------------------*- C++ -*-===//
//
// GPT-2's reversible byte <-> printable-unicode mapping ("bytes_to_unicode"),
// used by encoder.json and vocab.bpe to write arbitrary bytes as text.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace gpt::tokenizer::byte_level {

/// The 256 bytes in GPT-2's order: printable bytes first (the ids 0..255 of
/// GPT-2's vocabulary), then the rest.
const std::array<std::uint8_t, 256> &byteOrder();

/// Encodes raw bytes into GPT-2's byte-level unicode text (UTF-8).
std::string encode(std::string_view bytes);

/// Decodes GPT-2 byte-level unicode text back to bytes; throws
/// std::invalid_argument on characters outside the mapping.
std::string decode(std::string_view text);

} // namespace gpt::tokenizer::byte_level
