//===- VocabFiles.cpp -----------------------------------------------------===//
#include "runtime/tokenizer/VocabFiles.h"

#include "runtime/io/FileIO.h"
#include "runtime/tokenizer/ByteLevel.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace gpt::tokenizer {

VocabFiles readVocabFiles(const std::filesystem::path &encoderJson,
                          const std::filesystem::path &vocabBpe) {
  VocabFiles v;
  nlohmann::json enc;
  try {
    enc = nlohmann::json::parse(io::readFile(encoderJson));
  } catch (const nlohmann::json::exception &e) {
    throw std::runtime_error(encoderJson.string() + ": " + e.what());
  }
  if (!enc.is_object())
    throw std::runtime_error(encoderJson.string() +
                             ": expected a JSON object of token -> id");
  v.tokens.assign(enc.size(), std::string());
  std::vector<bool> seen(enc.size(), false);
  for (auto it = enc.begin(); it != enc.end(); ++it) {
    if (!it.value().is_number_unsigned() ||
        it.value().get<std::uint64_t>() >= enc.size())
      throw std::runtime_error(encoderJson.string() + ": token '" + it.key() +
                               "' has an id out of range 0.." +
                               std::to_string(enc.size() - 1));
    auto id = it.value().get<std::size_t>();
    if (seen[id])
      throw std::runtime_error(encoderJson.string() + ": id " +
                               std::to_string(id) + " used twice");
    seen[id] = true;
    try {
      v.tokens[id] = byte_level::decode(it.key());
    } catch (const std::invalid_argument &) {
      throw std::runtime_error(encoderJson.string() + ": token '" + it.key() +
                               "' is not byte-level text");
    }
  }
  std::string bpe = io::readFile(vocabBpe);
  std::size_t pos = 0, line = 0;
  while (pos < bpe.size()) {
    std::size_t eol = bpe.find('\n', pos);
    if (eol == std::string::npos)
      eol = bpe.size();
    std::string_view l(bpe.data() + pos, eol - pos);
    pos = eol + 1;
    ++line;
    if (!l.empty() && l.back() == '\r')
      l.remove_suffix(1);
    if (l.empty() || (line == 1 && l.rfind("#version", 0) == 0))
      continue;
    std::size_t sp = l.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp + 1 >= l.size() ||
        l.find(' ', sp + 1) != std::string_view::npos)
      throw std::runtime_error(vocabBpe.string() + ":" + std::to_string(line) +
                               ": expected 'left right'");
    try {
      v.merges.emplace_back(byte_level::decode(l.substr(0, sp)),
                            byte_level::decode(l.substr(sp + 1)));
    } catch (const std::invalid_argument &) {
      throw std::runtime_error(vocabBpe.string() + ":" + std::to_string(line) +
                               ": not byte-level text");
    }
  }
  return v;
}

std::string encoderJsonText(const std::vector<std::string> &tokens) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (std::size_t id = 0; id < tokens.size(); ++id)
    j[byte_level::encode(tokens[id])] = id;
  return j.dump() + "\n";
}

std::string
vocabBpeText(const std::vector<std::pair<std::string, std::string>> &merges) {
  std::string out = "#version: 0.2\n";
  for (const auto &m : merges) {
    out += byte_level::encode(m.first);
    out += ' ';
    out += byte_level::encode(m.second);
    out += '\n';
  }
  return out;
}

} // namespace gpt::tokenizer
