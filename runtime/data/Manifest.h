//===- Manifest.h -----------------------------------------------*- C++ -*-===//
//
// manifest.json of a prepared data directory: what was tokenized with which
// tokenizer, and the shards, token and byte counts of each split.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gpt::data {

inline constexpr const char *kManifestFormat = "gpt-token-shards";
inline constexpr int kManifestVersion = 1;

struct ShardEntry {
  std::string file; // relative to the manifest's directory
  std::uint64_t tokens = 0;
};

struct SplitStats {
  std::uint64_t documents = 0;
  std::uint64_t tokens = 0;
  std::uint64_t trainedTokens = 0;    // tokens with loss weight 1
  std::uint64_t textBytes = 0;        // bytes of text the tokens encode
  std::uint64_t trainedTextBytes = 0; // the same, for weighted tokens only
  std::vector<ShardEntry> shards;
};

struct InputStats {
  std::string path;
  std::uint64_t bytes = 0;
  std::uint64_t documents = 0;
  std::uint64_t skippedLines = 0;
  /// "train" or "val" when the input was given for one split (`gpt data
  /// prepare --val-input`); empty when val_fraction split it.
  std::string split;
};

struct Manifest {
  std::string kind; // "text" or "chat"
  std::string tokenizerPath;
  std::string tokenizerFingerprint;
  std::uint32_t vocabSize = 0;
  std::uint32_t eotId = 0;
  std::string tokenDtype; // "uint16" or "uint32"
  double valFraction = 0;
  std::uint64_t seed = 0;
  std::vector<InputStats> inputs;
  std::uint64_t skippedLines = 0;
  SplitStats train;
  SplitStats val;

  const SplitStats &split(const std::string &name) const;
  nlohmann::ordered_json toJson() const;
  /// Parses and checks a manifest; errors name `where` and the field.
  static Manifest fromJson(const nlohmann::json &j, const std::string &where);
  /// Reads DIR/manifest.json.
  static Manifest load(const std::filesystem::path &dir);
};

} // namespace gpt::data
