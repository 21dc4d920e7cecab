//===- Loader.cpp ---------------------------------------------------------===//
#include "runtime/data/Loader.h"

#include "runtime/data/DataError.h"
#include "runtime/data/Manifest.h"
#include "runtime/data/Random.h"

#include <algorithm>

namespace gpt::data {

nlohmann::json LoaderState::toJson() const {
  return {{"epoch", epoch},     {"cursor", cursor},        {"windows", windows},
          {"seed", seed},       {"batch_size", batchSize}, {"seq_len", seqLen},
          {"shuffle", shuffle}, {"packed", packed}};
}

LoaderState LoaderState::fromJson(const nlohmann::json &j) {
  try {
    LoaderState s;
    s.epoch = j.at("epoch").get<std::uint64_t>();
    s.cursor = j.at("cursor").get<std::uint64_t>();
    s.windows = j.at("windows").get<std::uint64_t>();
    s.seed = j.at("seed").get<std::uint64_t>();
    s.batchSize = j.at("batch_size").get<std::uint64_t>();
    s.seqLen = j.at("seq_len").get<std::uint64_t>();
    s.shuffle = j.at("shuffle").get<bool>();
    s.packed = j.value("packed", false); // absent before packing existed
    return s;
  } catch (const nlohmann::json::exception &e) {
    throw DataError(std::string("bad loader state: ") + e.what());
  }
}

bool LoaderState::operator==(const LoaderState &o) const {
  return epoch == o.epoch && cursor == o.cursor && windows == o.windows &&
         seed == o.seed && batchSize == o.batchSize && seqLen == o.seqLen &&
         shuffle == o.shuffle && packed == o.packed;
}

DataLoader::DataLoader(const std::vector<std::filesystem::path> &shards,
                       const LoaderOptions &options)
    : options_(options) {
  if (options.batchSize == 0 || options.seqLen == 0)
    throw DataError("batch size and sequence length must be positive");
  windowStart_.push_back(0);
  for (const auto &p : shards) {
    shards_.emplace_back(p);
    std::uint64_t n = shards_.back().size();
    std::uint64_t windows = n > options.seqLen ? (n - 1) / options.seqLen : 0;
    windowStart_.push_back(windowStart_.back() + windows);
    if (packed()) {
      const ShardReader &r = shards_.back();
      auto shard = static_cast<std::uint32_t>(shards_.size() - 1);
      for (DocumentWindow w : packDocuments(
               n, [&](std::uint64_t i) { return r.token(i); }, options.seqLen,
               static_cast<std::uint32_t>(options.documentEnd)))
        packedWindows_.push_back({w, shard});
    }
  }
  if (windowsPerEpoch() == 0)
    throw DataError("not enough tokens: no shard holds " +
                    std::to_string(options.seqLen + 1) +
                    " tokens (one window of T+1)");
  startEpoch(0);
}

DataLoader DataLoader::fromPrepared(const std::filesystem::path &dir,
                                    const std::string &split,
                                    const LoaderOptions &options) {
  Manifest m = Manifest::load(dir);
  std::vector<std::filesystem::path> paths;
  for (const ShardEntry &s : m.split(split).shards)
    paths.push_back(dir / s.file);
  if (paths.empty())
    throw DataError((dir / "manifest.json").string() + ": split '" + split +
                    "' has no shards");
  LoaderOptions o = options;
  if (o.packChat && m.kind == "chat")
    o.documentEnd = m.eotId;
  return DataLoader(paths, o);
}

std::vector<DocumentWindow>
packDocuments(std::uint64_t n,
              const std::function<std::uint32_t(std::uint64_t)> &tokenAt,
              std::size_t T, std::uint32_t documentEnd) {
  std::vector<DocumentWindow> out;
  const std::uint64_t span = T + 1;
  std::uint64_t begin = 0; // of the window being filled
  std::uint64_t doc = 0;   // start of the next document
  auto close = [&](std::uint64_t upTo) {
    // Windows of one token train nothing (no target).
    if (upTo - begin >= 2)
      out.push_back({begin, static_cast<std::uint32_t>(upTo - begin)});
    begin = upTo;
  };
  while (doc < n) {
    std::uint64_t next = doc; // one past this document's end token
    while (next < n && tokenAt(next) != documentEnd)
      ++next;
    next = std::min(n, next + 1);
    if (next - begin > span) {
      close(doc); // the window ends before this document
      // A document longer than the window: the T grid through it.
      while (next - begin > span) {
        out.push_back({begin, static_cast<std::uint32_t>(span)});
        begin += T;
      }
    }
    doc = next;
  }
  close(n);
  return out;
}

void DataLoader::startEpoch(std::uint64_t epoch) {
  epoch_ = epoch;
  cursor_ = 0;
  order_.clear();
  if (!options_.shuffle)
    return;
  order_.resize(windowsPerEpoch());
  for (std::uint64_t i = 0; i < order_.size(); ++i)
    order_[i] = i;
  // Each epoch's order depends only on (seed, epoch).
  SplitMix64 mix(options_.seed ^ (0x5851f42d4c957f2dull * (epoch + 1)));
  seededShuffle(order_, mix.next());
}

void DataLoader::fillWindow(std::uint64_t window, Batch &b,
                            std::size_t row) const {
  std::size_t T = options_.seqLen;
  if (packed()) {
    const PackedWindow &p = packedWindows_[window];
    const DocumentWindow &w = p.span;
    const ShardReader &r = shards_[p.shard];
    const auto pad = static_cast<std::int32_t>(options_.documentEnd);
    for (std::size_t t = 0; t < T; ++t) {
      bool in = t < w.length, target = t + 1 < w.length;
      b.inputs[row * T + t] =
          in ? static_cast<std::int32_t>(r.token(w.begin + t)) : pad;
      b.targets[row * T + t] =
          target ? static_cast<std::int32_t>(r.token(w.begin + t + 1)) : pad;
      b.weights[row * T + t] = target ? r.weight(w.begin + t + 1) : 0.0f;
    }
    return;
  }
  auto it = std::upper_bound(windowStart_.begin(), windowStart_.end(), window);
  std::size_t shard = static_cast<std::size_t>(it - windowStart_.begin()) - 1;
  const ShardReader &r = shards_[shard];
  std::uint64_t start = (window - windowStart_[shard]) * options_.seqLen;
  for (std::size_t t = 0; t < T; ++t) {
    b.inputs[row * T + t] = static_cast<std::int32_t>(r.token(start + t));
    b.targets[row * T + t] = static_cast<std::int32_t>(r.token(start + t + 1));
    b.weights[row * T + t] = r.weight(start + t + 1);
  }
}

Batch DataLoader::next() {
  Batch b;
  b.batchSize = options_.batchSize;
  b.seqLen = options_.seqLen;
  std::size_t n = b.batchSize * b.seqLen;
  b.inputs.resize(n);
  b.targets.resize(n);
  b.weights.resize(n);
  for (std::size_t row = 0; row < b.batchSize; ++row) {
    if (cursor_ == windowsPerEpoch())
      startEpoch(epoch_ + 1);
    std::uint64_t w = options_.shuffle ? order_[cursor_] : cursor_;
    ++cursor_;
    fillWindow(w, b, row);
  }
  return b;
}

void DataLoader::skip(std::size_t batches) {
  for (std::size_t i = 0; i < batches * options_.batchSize; ++i) {
    if (cursor_ == windowsPerEpoch())
      startEpoch(epoch_ + 1);
    ++cursor_;
  }
}

LoaderState DataLoader::state() const {
  LoaderState s;
  s.epoch = epoch_;
  s.cursor = cursor_;
  s.windows = windowsPerEpoch();
  s.seed = options_.seed;
  s.batchSize = options_.batchSize;
  s.seqLen = options_.seqLen;
  s.shuffle = options_.shuffle;
  s.packed = packed();
  return s;
}

void DataLoader::restore(const LoaderState &s) {
  LoaderState here = state();
  if (s.windows != here.windows || s.seed != here.seed ||
      s.batchSize != here.batchSize || s.seqLen != here.seqLen ||
      s.shuffle != here.shuffle || s.packed != here.packed)
    throw DataError("loader state does not match this data and options "
                    "(windows " +
                    std::to_string(s.windows) + " vs " +
                    std::to_string(here.windows) +
                    ", seed, B, T, shuffle, packing)");
  if (s.cursor > here.windows)
    throw DataError("loader state cursor is past the end of the epoch");
  startEpoch(s.epoch);
  cursor_ = s.cursor;
}

} // namespace gpt::data
