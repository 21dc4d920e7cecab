//===- BpeModel.h -----------------------------------------------*- C++ -*-===//
//
// The merge core of a byte-level BPE vocabulary, with tiktoken's semantics:
// a piece starts as single bytes; repeatedly, the adjacent pair whose
// concatenation is the lowest-ranked token is merged (leftmost on ties);
// a piece that is itself a token is emitted directly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gpt::tokenizer {

using TokenId = std::uint32_t;

class BpeModel {
public:
  static constexpr std::uint32_t kNoRank = 0xFFFFFFFFu;

  BpeModel() = default;
  /// `tokens[id]` are the bytes of each mergeable token (ids dense from 0,
  /// all 256 single bytes present); `ranks[id]` the merge priority of each
  /// token (lower merges first; kNoRank for tokens no merge may produce).
  BpeModel(std::vector<std::string> tokens, std::vector<std::uint32_t> ranks);

  /// Appends the ids of one pre-tokenized piece to `out`. O(L log L) in
  /// the piece length (a heap of candidate merges), so an unspaced
  /// megabyte cannot pin a core; pieces of at most kShortPiece bytes take
  /// the simple quadratic scan, which is faster there.
  void encodePiece(std::string_view piece, std::vector<TokenId> &out) const;
  /// The quadratic reference (tiktoken's algorithm), for tests.
  void encodePieceQuadratic(std::string_view piece,
                            std::vector<TokenId> &out) const;
  /// The heap algorithm at every length, for tests.
  void encodePieceHeap(std::string_view piece, std::vector<TokenId> &out) const;
  static constexpr std::size_t kShortPiece = 48;

  std::size_t size() const { return tokens_.size(); }
  const std::string &bytes(TokenId id) const { return tokens_[id]; }
  TokenId byteId(unsigned char b) const { return byteToId_[b]; }
  /// Id of the token whose bytes are exactly `bytes`, or -1.
  std::int64_t find(std::string_view bytes) const;

private:
  // Open-addressing map (a, b) -> merged token id.
  struct PairTable {
    std::vector<std::uint64_t> keys;
    std::vector<TokenId> values;
    std::uint64_t mask = 0;
    void build(std::size_t expected);
    void insert(std::uint64_t key, TokenId value);
    std::int64_t find(std::uint64_t key) const;
  };
  static std::uint64_t pairKey(TokenId a, TokenId b) {
    return (static_cast<std::uint64_t>(a) << 32) | b;
  }
  std::uint32_t mergeRank(TokenId a, TokenId b, TokenId &merged) const;

  std::vector<std::string> tokens_;
  std::vector<std::uint32_t> ranks_;
  std::unordered_map<std::string, TokenId> bytesToId_;
  TokenId byteToId_[256] = {};
  PairTable pairs_;
};

} // namespace gpt::tokenizer
