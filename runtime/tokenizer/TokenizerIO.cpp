//===- TokenizerIO.cpp ----------------------------------------------------===//
//
// Tokenizer::load and Tokenizer::save: the on-disk tokenizer directory.
#include "runtime/io/FileIO.h"
#include "runtime/tokenizer/Tokenizer.h"
#include "runtime/tokenizer/VocabFiles.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace gpt::tokenizer {
namespace fs = std::filesystem;
namespace {

constexpr const char *kFormat = "gpt-byte-bpe";
constexpr int kVersion = 1;

// Splits the tail of `tokens` holding the special tokens `specials` (which
// must be the last ids, in order) off the ordinary tokens.
void splitSpecialTail(std::vector<std::string> &tokens,
                      const std::vector<std::string> &specials,
                      const fs::path &where) {
  if (specials.size() > tokens.size())
    throw std::runtime_error(where.string() + ": more special tokens than ids");
  std::size_t first = tokens.size() - specials.size();
  for (std::size_t i = 0; i < specials.size(); ++i)
    if (tokens[first + i] != specials[i])
      throw std::runtime_error(where.string() + ": special token " +
                               specials[i] + " must have id " +
                               std::to_string(first + i));
  tokens.resize(first);
}

Tokenizer loadOwn(const fs::path &dir) {
  fs::path metaPath = dir / "tokenizer.json";
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(io::readFile(metaPath));
  } catch (const nlohmann::json::exception &e) {
    throw std::runtime_error(metaPath.string() + ": " + e.what());
  }
  if (!meta.is_object() || meta.value("format", "") != kFormat)
    throw std::runtime_error(metaPath.string() + ": format is not '" +
                             std::string(kFormat) + "'");
  if (meta.value("version", 0) != kVersion)
    throw std::runtime_error(metaPath.string() + ": unsupported version");
  if (meta.value("pre_tokenizer", "") != "gpt2")
    throw std::runtime_error(metaPath.string() +
                             ": unsupported pre_tokenizer (want gpt2)");
  std::vector<std::string> specials;
  const auto &list = meta.at("special_tokens");
  if (!list.is_array())
    throw std::runtime_error(metaPath.string() +
                             ": special_tokens must be an array of strings");
  for (const auto &s : list) {
    if (!s.is_string())
      throw std::runtime_error(metaPath.string() +
                               ": special_tokens must be an array of strings");
    specials.push_back(s.get<std::string>());
  }
  VocabFiles v = readVocabFiles(dir / "encoder.json", dir / "vocab.bpe");
  splitSpecialTail(v.tokens, specials, dir / "encoder.json");
  return Tokenizer(std::move(v.tokens), std::move(v.merges), specials);
}

Tokenizer loadGpt2(const fs::path &dir) {
  VocabFiles v = readVocabFiles(dir / "encoder.json", dir / "vocab.bpe");
  std::vector<std::string> specials;
  if (!v.tokens.empty() && v.tokens.back() == kEndOfText) {
    v.tokens.pop_back();
    specials.push_back(kEndOfText);
  }
  for (const char *s : {kEndOfText, kImStart, kImEnd}) {
    bool present = false;
    for (const auto &have : specials)
      present |= have == s;
    if (!present)
      specials.push_back(s);
  }
  return Tokenizer(std::move(v.tokens), std::move(v.merges), specials);
}

} // namespace

Tokenizer Tokenizer::load(const fs::path &path) {
  fs::path dir = path;
  if (fs::is_regular_file(path))
    dir = path.parent_path();
  if (!fs::is_directory(dir))
    throw std::runtime_error(path.string() + ": no such tokenizer directory");
  try {
    if (fs::exists(dir / "tokenizer.json"))
      return loadOwn(dir);
    if (fs::exists(dir / "encoder.json") && fs::exists(dir / "vocab.bpe"))
      return loadGpt2(dir);
  } catch (const nlohmann::json::exception &e) {
    throw std::runtime_error(dir.string() + ": bad tokenizer: " + e.what());
  }
  throw std::runtime_error(
      dir.string() +
      ": not a tokenizer directory (need tokenizer.json, or encoder.json + "
      "vocab.bpe)");
}

void Tokenizer::save(const fs::path &dir) const {
  fs::create_directories(dir);
  std::vector<std::string> all;
  all.reserve(vocabSize());
  for (std::size_t id = 0; id < model_.size(); ++id)
    all.push_back(model_.bytes(static_cast<TokenId>(id)));
  nlohmann::ordered_json meta;
  meta["format"] = kFormat;
  meta["version"] = kVersion;
  meta["pre_tokenizer"] = "gpt2";
  meta["vocab_size"] = vocabSize();
  meta["special_tokens"] = nlohmann::json::array();
  for (const SpecialToken &s : specials_) {
    all.push_back(s.text);
    meta["special_tokens"].push_back(s.text);
  }
  meta["fingerprint"] = fingerprint();
  io::writeFileAtomic(dir / "encoder.json", encoderJsonText(all));
  io::writeFileAtomic(dir / "vocab.bpe", vocabBpeText(merges_));
  io::writeFileAtomic(dir / "tokenizer.json", meta.dump(2) + "\n");
}

} // namespace gpt::tokenizer
