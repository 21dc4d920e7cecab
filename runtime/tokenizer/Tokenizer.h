//===- Tokenizer.h ----------------------------------------------*- C++ -*-===//
//
// Byte-level BPE tokenizer (GPT-2 compatible) with special tokens.
//
// Ids 0..mergeableSize()-1 are ordinary tokens (byte strings); special
// tokens follow them. `encode` never produces special ids: text such as
// "<|endoftext|>" is encoded as ordinary bytes. Use `encodeWithSpecial` to
// recognise special tokens in text.
#pragma once

#include "runtime/tokenizer/BpeModel.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gpt::tokenizer {

inline constexpr const char *kEndOfText = "<|endoftext|>";
inline constexpr const char *kImStart = "<|im_start|>";
inline constexpr const char *kImEnd = "<|im_end|>";

struct SpecialToken {
  std::string text;
  TokenId id;
};

class Tokenizer {
public:
  /// `tokens[id]` are the ordinary tokens' bytes, `merges` the merge rules in
  /// rank order (their concatenations must be tokens). Special tokens get
  /// the ids tokens.size(), tokens.size() + 1, ... in the given order.
  Tokenizer(std::vector<std::string> tokens,
            std::vector<std::pair<std::string, std::string>> merges,
            const std::vector<std::string> &specialTokens);

  /// Loads our tokenizer directory (tokenizer.json + encoder.json +
  /// vocab.bpe) or a GPT-2 directory (encoder.json + vocab.bpe only; then
  /// <|endoftext|> keeps its id 50256 and <|im_start|>, <|im_end|> are
  /// added as 50257, 50258). A path to one of those files means its
  /// directory.
  static Tokenizer load(const std::filesystem::path &path);

  /// Writes tokenizer.json, encoder.json and vocab.bpe into `dir`
  /// (created if needed), each atomically.
  void save(const std::filesystem::path &dir) const;

  std::vector<TokenId> encode(std::string_view text) const;
  void encode(std::string_view text, std::vector<TokenId> &out) const;
  std::vector<TokenId> encodeWithSpecial(std::string_view text) const;

  /// Decodes ids to bytes; throws std::out_of_range on an unknown id.
  std::string decode(const std::vector<TokenId> &ids) const;
  void decodeAppend(TokenId id, std::string &out) const;

  std::size_t vocabSize() const { return model_.size() + specials_.size(); }
  std::size_t mergeableSize() const { return model_.size(); }
  const std::vector<SpecialToken> &specialTokens() const { return specials_; }
  const std::vector<std::pair<std::string, std::string>> &merges() const {
    return merges_;
  }
  std::optional<TokenId> specialId(std::string_view text) const;
  /// Like specialId but throws std::runtime_error when absent.
  TokenId requireSpecial(std::string_view text) const;
  bool isSpecial(TokenId id) const { return id >= model_.size(); }
  const BpeModel &model() const { return model_; }

  /// Identity of the vocabulary: a 64-bit FNV-1a hash of the tokens, the
  /// merge order and the special tokens, as "fnv1a64:<16 hex digits>".
  std::string fingerprint() const;

  /// Drops this thread's cache of encoded pieces (for benchmarks).
  static void clearThreadCache();

private:
  BpeModel model_;
  std::vector<std::pair<std::string, std::string>> merges_;
  std::vector<SpecialToken> specials_;
  std::uint64_t serial_;
};

} // namespace gpt::tokenizer
