//===- TokenizerCommand.cpp -----------------------------------------------===//
//
// gpt tokenizer train | encode | decode
#include "Commands.h"

#include "runtime/io/FileIO.h"
#include "runtime/tokenizer/Tokenizer.h"
#include "runtime/tokenizer/Trainer.h"

#include <cctype>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace gpt::cli {
namespace {
using tokenizer::TokenId;
using tokenizer::Tokenizer;

std::string readStdin() {
  std::cin >> std::noskipws;
  return std::string(std::istreambuf_iterator<char>(std::cin),
                     std::istreambuf_iterator<char>());
}

// Ids from a JSON array or whitespace/comma-separated integers.
std::vector<TokenId> parseIds(const std::string &text) {
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    try {
      return nlohmann::json::parse(text).get<std::vector<TokenId>>();
    } catch (const nlohmann::json::exception &e) {
      throw std::runtime_error(std::string("stdin: bad JSON id array: ") +
                               e.what());
    }
  }
  std::vector<TokenId> ids;
  std::size_t i = 0;
  while (i < text.size()) {
    if (std::isspace(static_cast<unsigned char>(text[i])) || text[i] == ',') {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])))
      ++j;
    if (j == i || j - i > 10)
      throw std::runtime_error("stdin: not a token id at byte " +
                               std::to_string(i));
    ids.push_back(static_cast<TokenId>(std::stoull(text.substr(i, j - i))));
    i = j;
  }
  return ids;
}

void addTrain(CLI::App &parent) {
  auto *cmd = parent.add_subcommand(
      "train", "Learn a byte-level BPE vocabulary from text files");
  struct Opts {
    std::vector<std::string> inputs;
    std::size_t vocabSize = 0;
    std::string out;
    unsigned threads = 2;
    bool atomicAlnum = false;
    bool separateSpaces = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--input", o->inputs, "Text files to learn from")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--vocab-size", o->vocabSize,
                  "Total vocabulary size (256 bytes + merges + 3 special "
                  "tokens)")
      ->required();
  cmd->add_option("-o,--output", o->out, "Output tokenizer directory")
      ->required();
  cmd->add_option("--threads", o->threads, "Threads for pre-tokenization")
      ->capture_default_str();
  cmd->add_flag("--atomic-alnum", o->atomicAlnum,
                "Never merge an ASCII letter or digit with another (a "
                "space may still join one): for spelling and arithmetic "
                "tasks");
  cmd->add_flag("--separate-spaces", o->separateSpaces,
                "Never merge a space with an ASCII letter or digit: a "
                "letter is the same token in a word and spelled out");
  cmd->callback([o] {
    tokenizer::BpeTrainer trainer;
    for (const std::string &in : o->inputs) {
      std::string text = io::readFile(in);
      trainer.addText(text, o->threads);
      std::cerr << "counted " << in << " (" << text.size() << " bytes, "
                << trainer.uniquePieces() << " distinct pieces so far)\n";
    }
    tokenizer::TrainOptions opts;
    opts.vocabSize = o->vocabSize;
    opts.atomicAlnum = o->atomicAlnum;
    opts.separateSpaces = o->separateSpaces;
    opts.progress = [](const char *stage, std::size_t done, std::size_t all) {
      std::cerr << "\r" << stage << " " << done << "/" << all << std::flush;
    };
    Tokenizer t = trainer.train(opts);
    std::cerr << "\n";
    t.save(o->out);
    std::cout << "wrote " << o->out << ": vocab size " << t.vocabSize() << " ("
              << t.merges().size() << " merges), " << t.fingerprint() << "\n";
  });
}

void addEncode(CLI::App &parent) {
  auto *cmd = parent.add_subcommand(
      "encode", "Encode the text on stdin; print the token ids");
  struct Opts {
    std::string tok;
    bool json = false;
    bool special = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--tokenizer", o->tok,
                  "Tokenizer directory (ours, or GPT-2's encoder.json + "
                  "vocab.bpe)")
      ->required();
  cmd->add_flag("--json", o->json, "Print a JSON array");
  cmd->add_flag("--special", o->special,
                "Recognise special tokens such as <|endoftext|> in the text");
  cmd->callback([o] {
    Tokenizer t = Tokenizer::load(o->tok);
    std::string text = readStdin();
    std::vector<TokenId> ids =
        o->special ? t.encodeWithSpecial(text) : t.encode(text);
    if (o->json) {
      std::cout << nlohmann::json(ids).dump() << "\n";
      return;
    }
    for (std::size_t i = 0; i < ids.size(); ++i)
      std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
  });
}

void addDecode(CLI::App &parent) {
  auto *cmd = parent.add_subcommand(
      "decode", "Decode token ids on stdin (JSON array or whitespace-"
                "separated) to text on stdout");
  auto tok = std::make_shared<std::string>();
  cmd->add_option("--tokenizer", *tok, "Tokenizer directory")->required();
  cmd->callback([tok] {
    Tokenizer t = Tokenizer::load(*tok);
    std::string out = t.decode(parseIds(readStdin()));
    std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
    std::cout.flush();
  });
}

} // namespace

void addTokenizerCommand(CLI::App &app) {
  auto *cmd = app.add_subcommand("tokenizer", "Train and run BPE tokenizers");
  cmd->require_subcommand(1);
  addTrain(*cmd);
  addEncode(*cmd);
  addDecode(*cmd);
}

} // namespace gpt::cli
