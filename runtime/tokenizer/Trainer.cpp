//===- Trainer.cpp --------------------------------------------------------===//
#include "runtime/tokenizer/Trainer.h"

#include "runtime/tokenizer/ByteLevel.h"
#include "runtime/tokenizer/PreTokenizer.h"

#include <algorithm>
#include <queue>
#include <stdexcept>
#include <thread>

namespace gpt::tokenizer {
namespace {

using Counts = std::unordered_map<std::string, std::uint64_t>;
using PairKey = std::uint64_t;

PairKey key(TokenId a, TokenId b) {
  return (static_cast<PairKey>(a) << 32) | b;
}

void countPieces(std::string_view text, Counts &counts) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = nextPieceEnd(text, pos);
    ++counts[std::string(text.substr(pos, end - pos))];
    pos = end;
  }
}

struct Word {
  std::vector<TokenId> symbols;
  std::uint64_t count;
};

struct HeapEntry {
  std::uint64_t count;
  PairKey pair;
  bool operator<(const HeapEntry &o) const {
    // std::priority_queue pops the largest: highest count, then smallest pair.
    if (count != o.count)
      return count < o.count;
    return pair > o.pair;
  }
};

class MergeState {
public:
  explicit MergeState(std::vector<Word> words) : words_(std::move(words)) {
    for (std::uint32_t w = 0; w < words_.size(); ++w)
      addPairs(w, +1);
    for (auto &[p, c] : pairCount_)
      heap_.push({static_cast<std::uint64_t>(c), p});
  }

  // Pops the best allowed pair with count >= minCount, or returns false.
  // A pair `allowed` refuses is dropped for good (merges never change
  // whether a pair is allowed: that depends on its two tokens' bytes).
  template <typename Allowed>
  bool best(std::uint64_t minCount, Allowed allowed, PairKey &pair) {
    while (!heap_.empty()) {
      HeapEntry top = heap_.top();
      heap_.pop();
      if (!allowed(top.pair))
        continue;
      auto it = pairCount_.find(top.pair);
      std::int64_t now = it == pairCount_.end() ? 0 : it->second;
      if (now <= 0)
        continue;
      if (static_cast<std::uint64_t>(now) != top.count) {
        heap_.push({static_cast<std::uint64_t>(now), top.pair});
        continue;
      }
      if (top.count < minCount)
        return false;
      pair = top.pair;
      return true;
    }
    return false;
  }

  // Replaces every (a, b) by `merged` in the words holding that pair.
  void apply(PairKey pair, TokenId merged) {
    TokenId a = static_cast<TokenId>(pair >> 32);
    TokenId b = static_cast<TokenId>(pair & 0xFFFFFFFFu);
    std::vector<std::uint32_t> where = std::move(pairWords_[pair]);
    pairWords_.erase(pair);
    std::sort(where.begin(), where.end());
    where.erase(std::unique(where.begin(), where.end()), where.end());
    touched_.clear();
    for (std::uint32_t w : where) {
      std::vector<TokenId> &s = words_[w].symbols;
      bool has = false;
      for (std::size_t i = 0; i + 1 < s.size() && !has; ++i)
        has = s[i] == a && s[i + 1] == b;
      if (!has)
        continue;
      addPairs(w, -1);
      std::size_t out = 0;
      for (std::size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          s[out++] = merged;
          ++i;
        } else {
          s[out++] = s[i];
        }
      }
      s.resize(out);
      addPairs(w, +1);
      for (std::size_t i = 0; i + 1 < s.size(); ++i)
        if (s[i] == merged || s[i + 1] == merged)
          touched_.push_back(key(s[i], s[i + 1]));
    }
    std::sort(touched_.begin(), touched_.end());
    touched_.erase(std::unique(touched_.begin(), touched_.end()),
                   touched_.end());
    for (PairKey p : touched_)
      heap_.push({static_cast<std::uint64_t>(pairCount_[p]), p});
  }

private:
  void addPairs(std::uint32_t w, int sign) {
    const Word &word = words_[w];
    for (std::size_t i = 0; i + 1 < word.symbols.size(); ++i) {
      PairKey p = key(word.symbols[i], word.symbols[i + 1]);
      pairCount_[p] += sign * static_cast<std::int64_t>(word.count);
      if (sign > 0)
        pairWords_[p].push_back(w);
    }
  }

  std::vector<Word> words_;
  std::unordered_map<PairKey, std::int64_t> pairCount_;
  std::unordered_map<PairKey, std::vector<std::uint32_t>> pairWords_;
  std::priority_queue<HeapEntry> heap_;
  std::vector<PairKey> touched_;
};

} // namespace

void BpeTrainer::addText(std::string_view text, unsigned threads) {
  std::vector<std::size_t> cuts =
      safeCutPoints(text, threads < 1 ? 1 : threads);
  if (cuts.empty()) {
    countPieces(text, counts_);
    return;
  }
  std::vector<std::size_t> bounds = {0};
  bounds.insert(bounds.end(), cuts.begin(), cuts.end());
  bounds.push_back(text.size());
  std::vector<Counts> partial(bounds.size() - 1);
  std::vector<std::thread> pool;
  for (std::size_t i = 0; i < partial.size(); ++i)
    pool.emplace_back([&, i] {
      countPieces(text.substr(bounds[i], bounds[i + 1] - bounds[i]),
                  partial[i]);
    });
  for (auto &t : pool)
    t.join();
  for (Counts &c : partial)
    for (auto &[piece, n] : c)
      counts_[piece] += n;
}

Tokenizer BpeTrainer::train(const TrainOptions &options) const {
  std::size_t base = 256 + options.specialTokens.size();
  if (options.vocabSize < base)
    throw std::invalid_argument(
        "vocab size " + std::to_string(options.vocabSize) +
        " is too small: need at least " + std::to_string(base) +
        " (256 bytes + special tokens)");
  std::vector<std::string> tokens;
  TokenId byteId[256];
  for (std::uint8_t b : byte_level::byteOrder()) {
    byteId[b] = static_cast<TokenId>(tokens.size());
    tokens.emplace_back(1, static_cast<char>(b));
  }
  // Words in a fixed (sorted) order so that nothing depends on hashing.
  std::vector<const std::pair<const std::string, std::uint64_t> *> sorted;
  sorted.reserve(counts_.size());
  for (const auto &e : counts_)
    sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](auto *x, auto *y) { return x->first < y->first; });
  std::vector<Word> words;
  words.reserve(sorted.size());
  for (auto *e : sorted) {
    Word w{{}, e->second};
    for (unsigned char c : e->first)
      w.symbols.push_back(byteId[c]);
    words.push_back(std::move(w));
  }
  MergeState state(std::move(words));
  std::unordered_map<std::string, TokenId> index;
  for (TokenId id = 0; id < tokens.size(); ++id)
    index.emplace(tokens[id], id);
  std::vector<std::pair<std::string, std::string>> merges;
  std::size_t wantMerges = options.vocabSize - base;
  auto isAlnum = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z');
  };
  auto allowed = [&](PairKey p) {
    char last = tokens[p >> 32].back(), first = tokens[p & 0xFFFFFFFFu].front();
    if (options.atomicAlnum && isAlnum(last) && isAlnum(first))
      return false;
    if (options.separateSpaces &&
        ((last == ' ' && isAlnum(first)) || (isAlnum(last) && first == ' ')))
      return false;
    return true;
  };
  PairKey pair;
  while (merges.size() < wantMerges &&
         state.best(options.minPairCount, allowed, pair)) {
    const std::string &left = tokens[pair >> 32];
    const std::string &right = tokens[pair & 0xFFFFFFFFu];
    std::string joined = left + right;
    TokenId merged;
    auto found = index.find(joined);
    if (found != index.end()) {
      merged = found->second; // same bytes reached another way: no new token
    } else {
      merged = static_cast<TokenId>(tokens.size());
      merges.emplace_back(left, right);
      tokens.push_back(joined);
      index.emplace(std::move(joined), merged);
    }
    state.apply(pair, merged);
    if (options.progress && merges.size() % 1000 == 0)
      options.progress("merges", merges.size(), wantMerges);
  }
  if (options.progress)
    options.progress("merges", merges.size(), wantMerges);
  return Tokenizer(std::move(tokens), std::move(merges), options.specialTokens);
}

} // namespace gpt::tokenizer
