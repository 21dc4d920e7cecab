// Training data loader over token shards.
//
// The shards are cut into windows of T+1 tokens starting every T tokens
// (windows never cross a shard boundary). Each epoch visits every window
// once: in order (shuffle = false) or in a seeded random order that depends
// only on (seed, epoch). A batch is the next B windows; inputs are the
// first T tokens of a window, targets the last T, and weights the targets'
// loss weights (1 for shards without weights).
//
// The position (epoch, cursor) is all the state there is: restoring it
// makes the loader produce exactly the batches an uninterrupted run would.
#pragma once

#include "data/Shard.h"

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gpt::data {

struct LoaderOptions {
  std::size_t batchSize = 1; // B
  std::size_t seqLen = 1;    // T
  bool shuffle = true;
  std::uint64_t seed = 0;
};

struct LoaderState {
  std::uint64_t epoch = 0;
  std::uint64_t cursor = 0; // next window within the epoch's order
  // Recorded to detect resuming with different data or options.
  std::uint64_t windows = 0;
  std::uint64_t seed = 0;
  std::uint64_t batchSize = 0;
  std::uint64_t seqLen = 0;
  bool shuffle = true;

  nlohmann::json toJson() const;
  static LoaderState fromJson(const nlohmann::json &j);
  bool operator==(const LoaderState &o) const;
};

struct Batch {
  std::size_t batchSize = 0;
  std::size_t seqLen = 0;
  std::vector<std::int32_t> inputs;  // B*T, row-major
  std::vector<std::int32_t> targets; // B*T
  std::vector<float> weights;        // B*T
};

class DataLoader {
public:
  DataLoader(const std::vector<std::filesystem::path> &shards,
             const LoaderOptions &options);
  /// The shards of one split ("train" or "val") of a prepared directory.
  static DataLoader fromPrepared(const std::filesystem::path &dir,
                                 const std::string &split,
                                 const LoaderOptions &options);

  Batch next();
  LoaderState state() const;
  /// Throws DataError if the state was recorded with other data/options.
  void restore(const LoaderState &state);

  std::uint64_t windowsPerEpoch() const { return windowStart_.back(); }

private:
  void startEpoch(std::uint64_t epoch);
  void fillWindow(std::uint64_t window, Batch &b, std::size_t row) const;

  LoaderOptions options_;
  std::vector<ShardReader> shards_;
  std::vector<std::uint64_t> windowStart_; // prefix sums of windows per shard
  std::vector<std::uint64_t> order_;       // empty when not shuffling
  std::uint64_t epoch_ = 0;
  std::uint64_t cursor_ = 0;
};

} // namespace gpt::data
