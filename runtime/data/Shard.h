//===- Shard.h --------------------------------------------------*- C++ -*-===//
//
// Token shards: a 64-byte little-endian header, the token ids (uint16 or
// uint32), then optionally one uint8 loss weight per token. Shards are
// memory-mapped for reading and validated on open.
//
//   offset size field
//   0      8    magic "GPTSHARD"
//   8      4    version (1)
//   12     4    bytes per token (2 or 4)
//   16     8    token count
//   24     4    flags (bit 0: has loss weights)
//   28     4    vocabulary size
//   32     8    offset of the weights (0 without weights)
//   40     8    FNV-1a 64 checksum of everything after the header
//   48     16   reserved, zero
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gpt::data {

inline constexpr char kShardMagic[8] = {'G', 'P', 'T', 'S', 'H', 'A', 'R', 'D'};
inline constexpr std::uint32_t kShardVersion = 1;
inline constexpr std::size_t kShardHeaderSize = 64;

struct ShardInfo {
  std::uint32_t tokenBytes = 2;
  std::uint64_t tokenCount = 0;
  bool hasWeights = false;
  std::uint32_t vocabSize = 0;
};

/// Writes a shard to `path` (callers choose a temporary path and rename).
/// `weights` is empty or has one entry per token.
void writeShard(const std::filesystem::path &path,
                const std::vector<std::uint32_t> &tokens,
                const std::vector<std::uint8_t> &weights,
                std::uint32_t vocabSize);

/// A read-only, memory-mapped shard. Opening validates magic, version,
/// dtype, sizes against the file size, and (unless verify is false) the
/// checksum; errors are std::runtime_error naming the file.
class ShardReader {
public:
  explicit ShardReader(const std::filesystem::path &path, bool verify = true);
  ~ShardReader();
  ShardReader(ShardReader &&other) noexcept;
  ShardReader &operator=(ShardReader &&) = delete;
  ShardReader(const ShardReader &) = delete;

  const ShardInfo &info() const { return info_; }
  std::uint64_t size() const { return info_.tokenCount; }
  std::uint32_t token(std::uint64_t i) const {
    return info_.tokenBytes == 2
               ? reinterpret_cast<const std::uint16_t *>(tokens_)[i]
               : reinterpret_cast<const std::uint32_t *>(tokens_)[i];
  }
  /// 1 for shards without weights.
  std::uint8_t weight(std::uint64_t i) const {
    return weights_ ? weights_[i] : 1;
  }
  const std::filesystem::path &path() const { return path_; }

private:
  std::filesystem::path path_;
  void *map_ = nullptr;
  std::size_t mapSize_ = 0;
  const unsigned char *tokens_ = nullptr;
  const std::uint8_t *weights_ = nullptr;
  ShardInfo info_;
};

} // namespace gpt::data
