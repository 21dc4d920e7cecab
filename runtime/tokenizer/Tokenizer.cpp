//===- Tokenizer.cpp ------------------------------------------------------===//
#include "runtime/tokenizer/Tokenizer.h"

#include "runtime/tokenizer/PreTokenizer.h"

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <unordered_map>

namespace gpt::tokenizer {
namespace {

std::atomic<std::uint64_t> nextSerial{1};

// Per-thread cache of piece -> ids, so that encode() is thread-safe without
// locks. It belongs to one tokenizer at a time (by serial number).
struct PieceCache {
  static constexpr std::size_t kMaxEntries = 1u << 18;
  std::uint64_t owner = 0;
  std::unordered_map<std::string, std::pair<std::uint32_t, std::uint32_t>> map;
  std::vector<TokenId> pool;
  void reset(std::uint64_t newOwner) {
    owner = newOwner;
    map.clear();
    pool.clear();
  }
};
thread_local PieceCache tlsCache;

std::vector<std::uint32_t>
ranksFor(const std::vector<std::string> &tokens,
         const std::vector<std::pair<std::string, std::string>> &merges) {
  std::unordered_map<std::string, TokenId> index;
  index.reserve(tokens.size() * 2);
  for (TokenId id = 0; id < tokens.size(); ++id)
    index.emplace(tokens[id], id);
  std::vector<std::uint32_t> ranks(tokens.size(), BpeModel::kNoRank);
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const auto &[l, r] = merges[i];
    if (!index.count(l) || !index.count(r))
      throw std::runtime_error("merge " + std::to_string(i + 1) +
                               ": a part is not a token");
    auto it = index.find(l + r);
    if (it == index.end())
      throw std::runtime_error("merge " + std::to_string(i + 1) +
                               ": the merged token is not in the vocabulary");
    std::uint32_t &rank = ranks[it->second];
    if (rank == BpeModel::kNoRank)
      rank = static_cast<std::uint32_t>(256 + i);
  }
  return ranks;
}

} // namespace

Tokenizer::Tokenizer(std::vector<std::string> tokens,
                     std::vector<std::pair<std::string, std::string>> merges,
                     const std::vector<std::string> &specialTokens)
    : merges_(std::move(merges)), serial_(nextSerial++) {
  std::vector<std::uint32_t> ranks = ranksFor(tokens, merges_);
  TokenId next = static_cast<TokenId>(tokens.size());
  model_ = BpeModel(std::move(tokens), std::move(ranks));
  for (const std::string &s : specialTokens) {
    if (s.empty())
      throw std::invalid_argument("empty special token");
    if (specialId(s))
      throw std::invalid_argument("duplicate special token " + s);
    specials_.push_back({s, next++});
  }
}

void Tokenizer::encode(std::string_view text, std::vector<TokenId> &out) const {
  PieceCache &cache = tlsCache;
  if (cache.owner != serial_ || cache.map.size() > PieceCache::kMaxEntries)
    cache.reset(serial_);
  std::string key;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = nextPieceEnd(text, pos);
    std::string_view piece = text.substr(pos, end - pos);
    pos = end;
    if (piece.size() == 1) {
      out.push_back(model_.byteId(static_cast<unsigned char>(piece[0])));
      continue;
    }
    key.assign(piece.data(), piece.size());
    auto it = cache.map.find(key);
    if (it != cache.map.end()) {
      const TokenId *ids = cache.pool.data() + it->second.first;
      out.insert(out.end(), ids, ids + it->second.second);
      continue;
    }
    std::size_t before = out.size();
    model_.encodePiece(piece, out);
    auto offset = static_cast<std::uint32_t>(cache.pool.size());
    cache.pool.insert(cache.pool.end(), out.begin() + before, out.end());
    cache.map.emplace(std::move(key),
                      std::make_pair(offset, static_cast<std::uint32_t>(
                                                 out.size() - before)));
    key = std::string();
  }
}

std::vector<TokenId> Tokenizer::encode(std::string_view text) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 1);
  encode(text, out);
  return out;
}

std::vector<TokenId> Tokenizer::encodeWithSpecial(std::string_view text) const {
  std::vector<TokenId> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    // Earliest special token at or after pos (longest on ties).
    std::size_t best = std::string_view::npos;
    const SpecialToken *which = nullptr;
    for (const SpecialToken &s : specials_) {
      std::size_t at = text.find(s.text, pos);
      if (at < best ||
          (at == best && which && s.text.size() > which->text.size())) {
        best = at;
        which = &s;
      }
    }
    if (!which) {
      encode(text.substr(pos), out);
      break;
    }
    encode(text.substr(pos, best - pos), out);
    out.push_back(which->id);
    pos = best + which->text.size();
  }
  return out;
}

void Tokenizer::decodeAppend(TokenId id, std::string &out) const {
  if (id < model_.size()) {
    out += model_.bytes(id);
    return;
  }
  std::size_t s = id - model_.size();
  if (s >= specials_.size())
    throw std::out_of_range("token id " + std::to_string(id) +
                            " is out of range (vocabulary size " +
                            std::to_string(vocabSize()) + ")");
  out += specials_[s].text;
}

std::string Tokenizer::decode(const std::vector<TokenId> &ids) const {
  std::string out;
  for (TokenId id : ids)
    decodeAppend(id, out);
  return out;
}

std::optional<TokenId> Tokenizer::specialId(std::string_view text) const {
  for (const SpecialToken &s : specials_)
    if (s.text == text)
      return s.id;
  return std::nullopt;
}

TokenId Tokenizer::requireSpecial(std::string_view text) const {
  if (auto id = specialId(text))
    return *id;
  throw std::runtime_error("tokenizer has no special token " +
                           std::string(text));
}

std::string Tokenizer::fingerprint() const {
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto feed = [&h](std::string_view bytes) {
    std::uint64_t n = bytes.size();
    for (int i = 0; i < 8; ++i) {
      h ^= (n >> (8 * i)) & 0xFF;
      h *= 0x100000001b3ull;
    }
    for (unsigned char c : bytes) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
  };
  for (std::size_t id = 0; id < model_.size(); ++id)
    feed(model_.bytes(static_cast<TokenId>(id)));
  for (const auto &m : merges_) {
    feed(m.first);
    feed(m.second);
  }
  for (const SpecialToken &s : specials_)
    feed(s.text);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string("fnv1a64:") + buf;
}

void Tokenizer::clearThreadCache() { tlsCache.reset(0); }

} // namespace gpt::tokenizer
