//===- Trainer.h ------------------------------------------------*- C++ -*-===//
//
// Learns a byte-level BPE vocabulary from text, with the same GPT-2
// pre-tokenization used for encoding.
//
// Algorithm: count the pre-tokenized pieces of the corpus; start from the
// 256 byte tokens; repeatedly merge the most frequent adjacent pair over all
// pieces (weighted by piece count). Ties break towards the smaller
// (left id, right id) pair, so training is deterministic. Pairs seen fewer
// than `minPairCount` times are never merged, nor, with `atomicAlnum`, pairs
// that would join an ASCII letter or digit to another, nor, with
// `separateSpaces`, a space to a letter or digit.
#pragma once

#include "runtime/tokenizer/Tokenizer.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gpt::tokenizer {

struct TrainOptions {
  /// Total vocabulary size: 256 bytes + merges + special tokens.
  std::size_t vocabSize = 0;
  std::vector<std::string> specialTokens = {kEndOfText, kImStart, kImEnd};
  std::uint64_t minPairCount = 2;
  /// When set, no token holds two adjacent ASCII letters or digits: each
  /// letter and digit stays its own symbol (a space before it may join it,
  /// as other bytes such as a CJK character's still merge). Spelling,
  /// reversing, counting letters and digit arithmetic then see every letter
  /// and digit, whatever words the corpus repeats.
  bool atomicAlnum = false;
  /// When set, a space never joins an ASCII letter or digit: ` melon` is a
  /// space and `m e l o n`, so a letter is the same token inside a word,
  /// after a space and in a spelled-out answer (copying it needs no
  /// mapping between look-alike tokens).
  bool separateSpaces = false;
  /// Called now and then with (stage, done, total).
  std::function<void(const char *, std::size_t, std::size_t)> progress;
};

class BpeTrainer {
public:
  /// Pre-tokenizes `text` and adds its pieces to the counts; uses up to
  /// `threads` threads.
  void addText(std::string_view text, unsigned threads = 1);

  std::size_t uniquePieces() const { return counts_.size(); }

  /// Learns the merges. Throws std::invalid_argument if vocabSize is too
  /// small for the bytes and special tokens. The result may be smaller than
  /// asked when the corpus runs out of pairs.
  Tokenizer train(const TrainOptions &options) const;

private:
  std::unordered_map<std::string, std::uint64_t> counts_;
};

} // namespace gpt::tokenizer
