//===- BpeModel.cpp -------------------------------------------------------===//
#include "runtime/tokenizer/BpeModel.h"

#include <algorithm>
#include <functional>
#include <stdexcept>

namespace gpt::tokenizer {
namespace {
constexpr std::uint64_t kEmptyKey = ~0ull;

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}
} // namespace

void BpeModel::PairTable::build(std::size_t expected) {
  std::size_t cap = 16;
  while (cap < expected * 2)
    cap <<= 1;
  keys.assign(cap, kEmptyKey);
  values.assign(cap, 0);
  mask = cap - 1;
}

void BpeModel::PairTable::insert(std::uint64_t key, TokenId value) {
  for (std::uint64_t i = mix(key) & mask;; i = (i + 1) & mask) {
    if (keys[i] == kEmptyKey || keys[i] == key) {
      keys[i] = key;
      values[i] = value;
      return;
    }
  }
}

std::int64_t BpeModel::PairTable::find(std::uint64_t key) const {
  for (std::uint64_t i = mix(key) & mask;; i = (i + 1) & mask) {
    if (keys[i] == key)
      return values[i];
    if (keys[i] == kEmptyKey)
      return -1;
  }
}

BpeModel::BpeModel(std::vector<std::string> tokens,
                   std::vector<std::uint32_t> ranks)
    : tokens_(std::move(tokens)), ranks_(std::move(ranks)) {
  if (ranks_.size() != tokens_.size())
    throw std::invalid_argument("BpeModel: ranks and tokens differ in size");
  bool haveByte[256] = {};
  bytesToId_.reserve(tokens_.size() * 2);
  for (TokenId id = 0; id < tokens_.size(); ++id) {
    const std::string &t = tokens_[id];
    if (t.empty())
      throw std::invalid_argument("BpeModel: empty token " +
                                  std::to_string(id));
    if (!bytesToId_.emplace(t, id).second)
      throw std::invalid_argument("BpeModel: duplicate token " +
                                  std::to_string(id));
    if (t.size() == 1) {
      haveByte[static_cast<unsigned char>(t[0])] = true;
      byteToId_[static_cast<unsigned char>(t[0])] = id;
    }
  }
  for (int b = 0; b < 256; ++b)
    if (!haveByte[b])
      throw std::invalid_argument("BpeModel: no token for byte " +
                                  std::to_string(b));
  // Every split of a ranked token into two tokens is a mergeable pair.
  std::vector<std::pair<std::uint64_t, TokenId>> entries;
  for (TokenId id = 0; id < tokens_.size(); ++id) {
    const std::string &t = tokens_[id];
    if (ranks_[id] == kNoRank || t.size() < 2)
      continue;
    std::string_view v(t);
    for (std::size_t k = 1; k < v.size(); ++k) {
      auto left = bytesToId_.find(std::string(v.substr(0, k)));
      if (left == bytesToId_.end())
        continue;
      auto right = bytesToId_.find(std::string(v.substr(k)));
      if (right == bytesToId_.end())
        continue;
      entries.emplace_back(pairKey(left->second, right->second), id);
    }
  }
  pairs_.build(entries.size());
  for (auto &e : entries)
    pairs_.insert(e.first, e.second);
}

std::int64_t BpeModel::find(std::string_view bytes) const {
  auto it = bytesToId_.find(std::string(bytes));
  return it == bytesToId_.end() ? -1 : static_cast<std::int64_t>(it->second);
}

std::uint32_t BpeModel::mergeRank(TokenId a, TokenId b, TokenId &merged) const {
  std::int64_t m = pairs_.find(pairKey(a, b));
  if (m < 0)
    return kNoRank;
  merged = static_cast<TokenId>(m);
  return ranks_[merged];
}

void BpeModel::encodePiece(std::string_view piece,
                           std::vector<TokenId> &out) const {
  if (piece.empty())
    return;
  if (piece.size() == 1) {
    out.push_back(byteToId_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  if (std::int64_t whole = find(piece); whole >= 0) {
    out.push_back(static_cast<TokenId>(whole));
    return;
  }
  if (piece.size() <= kShortPiece)
    encodePieceQuadratic(piece, out);
  else
    encodePieceHeap(piece, out);
}

void BpeModel::encodePieceQuadratic(std::string_view piece,
                                    std::vector<TokenId> &out) const {
  // parts[i] is a token; rank[i]/merged[i] describe merging parts[i] with
  // parts[i + 1]. Each merge rescans every pair: O(L^2), like tiktoken.
  std::vector<TokenId> parts(piece.size());
  for (std::size_t i = 0; i < piece.size(); ++i)
    parts[i] = byteToId_[static_cast<unsigned char>(piece[i])];
  if (parts.size() < 2) {
    out.insert(out.end(), parts.begin(), parts.end());
    return;
  }
  std::vector<std::uint32_t> rank(parts.size());
  std::vector<TokenId> merged(parts.size());
  for (std::size_t i = 0; i + 1 < parts.size(); ++i)
    rank[i] = mergeRank(parts[i], parts[i + 1], merged[i]);
  rank.back() = kNoRank;
  while (parts.size() > 1) {
    std::size_t best = 0;
    for (std::size_t i = 1; i + 1 < parts.size(); ++i)
      if (rank[i] < rank[best])
        best = i;
    if (rank[best] == kNoRank)
      break;
    parts[best] = merged[best];
    parts.erase(parts.begin() + best + 1);
    rank.erase(rank.begin() + best + 1);
    merged.erase(merged.begin() + best + 1);
    if (best + 1 < parts.size())
      rank[best] = mergeRank(parts[best], parts[best + 1], merged[best]);
    else
      rank[best] = kNoRank;
    if (best > 0)
      rank[best - 1] =
          mergeRank(parts[best - 1], parts[best], merged[best - 1]);
  }
  out.insert(out.end(), parts.begin(), parts.end());
}

void BpeModel::encodePieceHeap(std::string_view piece,
                               std::vector<TokenId> &out) const {
  // Parts form a linked list over their start offsets; the heap holds
  // candidate merges keyed (rank, start of the left part), so the lowest
  // rank wins and ties go leftmost, as in the quadratic scan. An entry is
  // stale once either part has changed: it remembers both tokens.
  const std::size_t n = piece.size();
  std::vector<TokenId> tok(n);
  std::vector<std::int32_t> next(n), prev(n);
  std::vector<bool> alive(n, true);
  for (std::size_t i = 0; i < n; ++i) {
    tok[i] = byteToId_[static_cast<unsigned char>(piece[i])];
    next[i] = i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1;
    prev[i] = static_cast<std::int32_t>(i) - 1;
  }
  struct Candidate {
    std::uint32_t rank;
    std::int32_t left;
    TokenId a, b, merged;
    bool operator>(const Candidate &o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::vector<Candidate> heap;
  heap.reserve(2 * n);
  auto push = [&](std::int32_t left) {
    std::int32_t right = next[left];
    if (right < 0)
      return;
    TokenId m;
    std::uint32_t r = mergeRank(tok[left], tok[right], m);
    if (r == kNoRank)
      return;
    heap.push_back({r, left, tok[left], tok[right], m});
    std::push_heap(heap.begin(), heap.end(), std::greater<Candidate>());
  };
  for (std::size_t i = 0; i + 1 < n; ++i)
    push(static_cast<std::int32_t>(i));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<Candidate>());
    Candidate c = heap.back();
    heap.pop_back();
    std::int32_t right = next[c.left];
    if (!alive[c.left] || right < 0 || tok[c.left] != c.a || tok[right] != c.b)
      continue; // stale
    tok[c.left] = c.merged;
    alive[right] = false;
    next[c.left] = next[right];
    if (next[right] >= 0)
      prev[next[right]] = c.left;
    if (prev[c.left] >= 0)
      push(prev[c.left]);
    push(c.left);
  }
  for (std::int32_t i = 0; i >= 0; i = next[i])
    out.push_back(tok[i]);
}

} // namespace gpt::tokenizer
