//===- DataCommand.cpp ----------------------------------------------------===//
//
// gpt data prepare
#include "Commands.h"

#include "runtime/data/Prepare.h"

#include <iostream>

namespace gpt::cli {
namespace {

void printSplit(const char *name, const data::SplitStats &s) {
  std::cout << "  " << name << ": " << s.documents << " documents, " << s.tokens
            << " tokens (" << s.trainedTokens << " trained), " << s.textBytes
            << " text bytes, " << s.shards.size() << " shard(s)\n";
}

void addPrepare(CLI::App &parent) {
  auto *cmd = parent.add_subcommand(
      "prepare",
      "Tokenize plain text (.txt) or chat JSONL (.jsonl, OpenAI fine-tuning "
      "format) into train/val token shards and manifest.json");
  struct Opts {
    std::vector<std::string> inputs, valInputs;
    std::string tok, out;
    data::PrepareOptions p;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--input", o->inputs, "Input files (all .txt or all .jsonl)")
      ->required();
  cmd->add_option("--tokenizer", o->tok, "Tokenizer directory")->required();
  cmd->add_option("-o,--output", o->out, "Output directory")->required();
  cmd->add_option("--val-fraction", o->p.valFraction,
                  "Fraction for validation, in [0, 1)")
      ->capture_default_str();
  cmd->add_option("--val-input", o->valInputs,
                  "The validation split's own files (same kind as --input; "
                  "then --val-fraction must be 0)");
  cmd->add_option("--seed", o->p.seed, "Seed of the document split")
      ->capture_default_str();
  cmd->add_option("--shard-tokens", o->p.shardTokens,
                  "Maximum tokens per shard file")
      ->capture_default_str();
  cmd->add_option("--threads", o->p.threads, "Encoding threads")
      ->capture_default_str();
  cmd->add_flag("--skip-bad", o->p.skipBad,
                "Skip (and count) malformed chat lines instead of failing");
  cmd->add_flag("--json", o->json, "Print the manifest as JSON");
  cmd->callback([o] {
    data::PrepareOptions p = o->p;
    p.inputs.assign(o->inputs.begin(), o->inputs.end());
    p.valInputs.assign(o->valInputs.begin(), o->valInputs.end());
    p.tokenizer = o->tok;
    p.outDir = o->out;
    p.log = [](const std::string &line) { std::cerr << line << "\n"; };
    data::Manifest m = data::prepareData(p);
    if (o->json) {
      std::cout << m.toJson().dump(2) << "\n";
      return;
    }
    std::cout << "wrote " << o->out << " (" << m.kind << ", "
              << m.tokenizerFingerprint << ")\n";
    printSplit("train", m.train);
    printSplit("val", m.val);
    if (m.skippedLines)
      std::cout << "  skipped " << m.skippedLines << " bad line(s)\n";
  });
}

} // namespace

void addDataCommand(CLI::App &app) {
  auto *cmd = app.add_subcommand(
      "data", "Prepare training data; generate the built-in synthetic dataset");
  cmd->require_subcommand(1);
  addPrepare(*cmd);
  addDataSynthCommand(*cmd);
}

} // namespace gpt::cli
