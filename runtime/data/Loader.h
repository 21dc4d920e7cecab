//===- Loader.h -------------------------------------------------*- C++ -*-===//
//
// Training data loader over token shards.
//
// Text shards are cut into windows of T+1 tokens starting every T tokens
// (windows never cross a shard boundary). Chat shards (fromPrepared of a
// chat manifest, unless packChat is off) are packed instead: each window
// holds whole conversations, as many consecutive ones as fit in T+1 tokens,
// the rest padded with <|endoftext|> at loss weight 0; a conversation longer
// than T+1 is cut on the T grid. So every answer is trained with its whole
// question before it, never after a cut that lost the question. Each epoch
// visits every window once: in order (shuffle = false) or in a seeded random
// order that depends only on (seed, epoch). A batch is the next B windows;
// inputs are the first T tokens of a window, targets the last T, and weights
// the targets' loss weights (1 for shards without weights).
//
// The position (epoch, cursor) is all the state there is: restoring it
// makes the loader produce exactly the batches an uninterrupted run would.
#pragma once

#include "runtime/data/Shard.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gpt::data {

struct LoaderOptions {
  std::size_t batchSize = 1; // B
  std::size_t seqLen = 1;    // T
  bool shuffle = true;
  std::uint64_t seed = 0;
  /// fromPrepared: pack chat data by conversation (see above).
  bool packChat = true;
  /// Pack documents that end with this token id (-1: the T grid).
  std::int64_t documentEnd = -1;
};

/// A window of whole documents: `length` (<= T+1) tokens from `begin`.
struct DocumentWindow {
  std::uint64_t begin;
  std::uint32_t length;
};

/// Packs the n tokens that tokenAt(i) reads into windows of whole documents
/// (each ends with `documentEnd`), as many consecutive ones as fit in T+1
/// tokens; a document longer than that is cut on the T grid. The loader and
/// the chat evaluation use the same windows.
std::vector<DocumentWindow>
packDocuments(std::uint64_t n,
              const std::function<std::uint32_t(std::uint64_t)> &tokenAt,
              std::size_t T, std::uint32_t documentEnd);

struct LoaderState {
  std::uint64_t epoch = 0;
  std::uint64_t cursor = 0; // next window within the epoch's order
  // Recorded to detect resuming with different data or options.
  std::uint64_t windows = 0;
  std::uint64_t seed = 0;
  std::uint64_t batchSize = 0;
  std::uint64_t seqLen = 0;
  bool shuffle = true;
  bool packed = false;

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
  /// Moves past `batches` batches without reading them: next() then returns
  /// what it would after as many next() calls (data-parallel ranks skip the
  /// other ranks' shares of the global batch).
  void skip(std::size_t batches);
  LoaderState state() const;
  /// Throws DataError if the state was recorded with other data/options.
  void restore(const LoaderState &state);

  std::uint64_t windowsPerEpoch() const {
    return packed() ? packedWindows_.size() : windowStart_.back();
  }
  bool packed() const { return options_.documentEnd >= 0; }

private:
  struct PackedWindow {
    DocumentWindow span;
    std::uint32_t shard;
  };
  void startEpoch(std::uint64_t epoch);
  void fillWindow(std::uint64_t window, Batch &b, std::size_t row) const;

  LoaderOptions options_;
  std::vector<ShardReader> shards_;
  std::vector<std::uint64_t> windowStart_; // prefix sums of windows per shard
  std::vector<PackedWindow> packedWindows_;
  std::vector<std::uint64_t> order_; // empty when not shuffling
  std::uint64_t epoch_ = 0;
  std::uint64_t cursor_ = 0;
};

} // namespace gpt::data
