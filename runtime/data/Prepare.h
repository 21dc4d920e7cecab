//===- Prepare.h ------------------------------------------------*- C++ -*-===//
//
// `gpt data prepare`: tokenizes plain text or chat JSONL into train/val
// token shards plus manifest.json.
//
// Plain text (any extension but .jsonl): one file is split nanoGPT-style,
// the last `valFraction` of its bytes going to val; several files are
// documents, split by a seeded shuffle, each followed by <|endoftext|>.
// Chat JSONL (.jsonl): each conversation is rendered by the ChatML template
// and followed by <|endoftext|>; conversations are split by a seeded
// shuffle; loss weights mark the assistant tokens.
//
// With `valInputs`, nothing is split: `inputs` are the train split and
// `valInputs` the val split (same kind; valFraction must be 0), e.g. the
// validation conversations of `gpt data synth`.
//
// Everything is read and checked before anything is written; outputs are
// written to temporary files and renamed into place.
#pragma once

#include "runtime/data/Manifest.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace gpt::data {

struct PrepareOptions {
  std::vector<std::filesystem::path> inputs;
  /// The val split's own files (then nothing is split by valFraction).
  std::vector<std::filesystem::path> valInputs;
  std::filesystem::path tokenizer;
  std::filesystem::path outDir;
  double valFraction = 0.1;
  std::uint64_t seed = 1337;
  bool skipBad = false;
  std::uint64_t shardTokens = 100'000'000;
  unsigned threads = 2;
  /// Progress and warnings (e.g. skipped lines), one line each.
  std::function<void(const std::string &)> log;
};

/// Runs the preparation; throws DataError on bad input or options.
Manifest prepareData(const PrepareOptions &options);

} // namespace gpt::data
