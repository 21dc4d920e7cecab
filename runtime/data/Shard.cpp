//===- Shard.cpp ----------------------------------------------------------===//
#include "runtime/data/Shard.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gpt::data {
namespace {

struct Fnv {
  std::uint64_t h = 0xcbf29ce484222325ull;
  void feed(const void *data, std::size_t n) {
    const auto *p = static_cast<const unsigned char *>(data);
    for (std::size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 0x100000001b3ull;
    }
  }
};

template <class T> void put(unsigned char *dst, T v) {
  std::memcpy(dst, &v, sizeof v); // little-endian hosts only (x86, arm64)
}
template <class T> T get(const unsigned char *src) {
  T v;
  std::memcpy(&v, src, sizeof v);
  return v;
}

std::uint64_t align8(std::uint64_t x) { return (x + 7) & ~7ull; }

[[noreturn]] void fail(const std::filesystem::path &p, const std::string &m) {
  throw std::runtime_error(p.string() + ": " + m);
}

} // namespace

void writeShard(const std::filesystem::path &path,
                const std::vector<std::uint32_t> &tokens,
                const std::vector<std::uint8_t> &weights,
                std::uint32_t vocabSize) {
  if (!weights.empty() && weights.size() != tokens.size())
    throw std::invalid_argument("writeShard: weights and tokens differ");
  std::uint32_t tokenBytes = vocabSize <= 65536 ? 2 : 4;
  std::string payload;
  payload.resize(tokens.size() * tokenBytes);
  auto *dst = reinterpret_cast<unsigned char *>(payload.data());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] >= vocabSize)
      throw std::invalid_argument("writeShard: token id out of range");
    if (tokenBytes == 2)
      put<std::uint16_t>(dst + 2 * i, static_cast<std::uint16_t>(tokens[i]));
    else
      put<std::uint32_t>(dst + 4 * i, tokens[i]);
  }
  std::uint64_t weightsOffset = 0;
  if (!weights.empty()) {
    weightsOffset = align8(kShardHeaderSize + payload.size());
    payload.resize(weightsOffset - kShardHeaderSize, '\0');
    payload.append(reinterpret_cast<const char *>(weights.data()),
                   weights.size());
  }
  Fnv fnv;
  fnv.feed(payload.data(), payload.size());
  unsigned char header[kShardHeaderSize] = {};
  std::memcpy(header, kShardMagic, 8);
  put<std::uint32_t>(header + 8, kShardVersion);
  put<std::uint32_t>(header + 12, tokenBytes);
  put<std::uint64_t>(header + 16, tokens.size());
  put<std::uint32_t>(header + 24, weights.empty() ? 0u : 1u);
  put<std::uint32_t>(header + 28, vocabSize);
  put<std::uint64_t>(header + 32, weightsOffset);
  put<std::uint64_t>(header + 40, fnv.h);
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    fail(path, std::string("cannot create: ") + std::strerror(errno));
  bool ok = std::fwrite(header, 1, sizeof header, f) == sizeof header;
  ok =
      ok && std::fwrite(payload.data(), 1, payload.size(), f) == payload.size();
  ok = (std::fflush(f) == 0) && ok;
  ok = (::fsync(fileno(f)) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok)
    fail(path, "write failed");
}

ShardReader::ShardReader(const std::filesystem::path &path, bool verify)
    : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail(path, "cannot stat");
  }
  auto fileSize = static_cast<std::uint64_t>(st.st_size);
  if (fileSize < kShardHeaderSize) {
    ::close(fd);
    fail(path, "truncated: " + std::to_string(fileSize) +
                   " bytes is shorter than the 64-byte shard header");
  }
  mapSize_ = static_cast<std::size_t>(fileSize);
  map_ = ::mmap(nullptr, mapSize_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    fail(path, "mmap failed");
  }
  try {
    const auto *base = static_cast<const unsigned char *>(map_);
    if (std::memcmp(base, kShardMagic, 8) != 0)
      fail(path, "not a token shard (bad magic)");
    auto version = get<std::uint32_t>(base + 8);
    if (version != kShardVersion)
      fail(path, "unsupported shard version " + std::to_string(version) +
                     " (this build reads version " +
                     std::to_string(kShardVersion) + ")");
    info_.tokenBytes = get<std::uint32_t>(base + 12);
    if (info_.tokenBytes != 2 && info_.tokenBytes != 4)
      fail(path, "bad token size " + std::to_string(info_.tokenBytes));
    info_.tokenCount = get<std::uint64_t>(base + 16);
    auto flags = get<std::uint32_t>(base + 24);
    if (flags & ~1u)
      fail(path, "unknown flags");
    info_.hasWeights = flags & 1u;
    info_.vocabSize = get<std::uint32_t>(base + 28);
    auto weightsOffset = get<std::uint64_t>(base + 32);
    if (info_.tokenCount > (fileSize - kShardHeaderSize) / info_.tokenBytes)
      fail(path, "truncated: header says " + std::to_string(info_.tokenCount) +
                     " tokens but the file has " + std::to_string(fileSize) +
                     " bytes");
    std::uint64_t tokensEnd =
        kShardHeaderSize + info_.tokenCount * info_.tokenBytes;
    std::uint64_t expected = tokensEnd;
    if (info_.hasWeights) {
      if (weightsOffset != align8(tokensEnd))
        fail(path, "bad weights offset");
      expected = weightsOffset + info_.tokenCount;
    } else if (weightsOffset != 0) {
      fail(path, "weights offset set without the weights flag");
    }
    if (fileSize < expected)
      fail(path, "truncated: expected " + std::to_string(expected) +
                     " bytes, the file has " + std::to_string(fileSize));
    if (fileSize > expected)
      fail(path, "trailing bytes: expected " + std::to_string(expected) +
                     " bytes, the file has " + std::to_string(fileSize));
    if (verify) {
      Fnv fnv;
      fnv.feed(base + kShardHeaderSize, mapSize_ - kShardHeaderSize);
      if (fnv.h != get<std::uint64_t>(base + 40))
        fail(path, "checksum mismatch (corrupt shard)");
    }
    tokens_ = base + kShardHeaderSize;
    weights_ = info_.hasWeights ? base + weightsOffset : nullptr;
  } catch (...) {
    ::munmap(map_, mapSize_);
    map_ = nullptr;
    throw;
  }
}

ShardReader::ShardReader(ShardReader &&o) noexcept
    : path_(std::move(o.path_)), map_(o.map_), mapSize_(o.mapSize_),
      tokens_(o.tokens_), weights_(o.weights_), info_(o.info_) {
  o.map_ = nullptr;
}

ShardReader::~ShardReader() {
  if (map_)
    ::munmap(map_, mapSize_);
}

} // namespace gpt::data
