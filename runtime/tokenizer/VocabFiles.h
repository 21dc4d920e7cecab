//===- VocabFiles.h ---------------------------------------------*- C++ -*-===//
//
// Reading and writing vocabularies in GPT-2's file format: encoder.json
// (byte-level token text -> id) and vocab.bpe ("#version" line, then one
// merge "left right" per line, in rank order).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace gpt::tokenizer {

struct VocabFiles {
  /// Raw bytes of every token, indexed by id (ids dense from 0).
  std::vector<std::string> tokens;
  /// Merges in rank order, as (left bytes, right bytes).
  std::vector<std::pair<std::string, std::string>> merges;
};

/// Loads encoder.json and vocab.bpe; errors name the file (and line for
/// vocab.bpe). Every id in 0..N-1 must be present exactly once.
VocabFiles readVocabFiles(const std::filesystem::path &encoderJson,
                          const std::filesystem::path &vocabBpe);

/// Serializes to the two files' contents.
std::string encoderJsonText(const std::vector<std::string> &tokens);
std::string
vocabBpeText(const std::vector<std::pair<std::string, std::string>> &merges);

} // namespace gpt::tokenizer
