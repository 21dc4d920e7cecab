//===- PreTokenizer.h -------------------------------------------*- C++ -*-===//
//
// The GPT-2 pre-tokenizer, written by hand (no regex engine). It splits text
// exactly as tiktoken's `gpt2` pattern does:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// with leftmost-first alternation, \s being Unicode White_Space (so U+0085 is
// whitespace) and bytes that are not valid UTF-8 treated as "other".
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace gpt::tokenizer {

/// Returns the end (exclusive) of the piece that starts at `pos`
/// (pos < text.size()).
std::size_t nextPieceEnd(std::string_view text, std::size_t pos);

/// Splits `text` into pre-tokenization pieces.
std::vector<std::string_view> splitPieces(std::string_view text);

/// Returns positions at which `text` may be cut into independently
/// pre-tokenized chunks without changing the result: each is just after a
/// '\n' that is followed by a non-whitespace byte. Returns at most
/// `parts - 1` cuts, roughly evenly spaced, in increasing order.
std::vector<std::size_t> safeCutPoints(std::string_view text,
                                       std::size_t parts);

} // namespace gpt::tokenizer
