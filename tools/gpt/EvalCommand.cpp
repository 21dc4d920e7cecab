//===- EvalCommand.cpp ----------------------------------------------------===//
//
// gpt eval
#include "BackendFlags.h"
#include "Commands.h"
#include "RunDir.h"

#include "runtime/io/FileIO.h"
#include "runtime/train/Evaluate.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

namespace gpt::cli {
namespace fs = std::filesystem;

void addEvalCommand(CLI::App &app) {
  auto *cmd = app.add_subcommand(
      "eval", "Validation loss, perplexity and bits per byte of a trained "
              "model on a text file or a prepared directory's split");
  struct Opts {
    std::string model, data, split = "val";
    std::int64_t batch = 8, seq = 0;
    int threads = 0;
    BackendOptions backend;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "Run directory of `gpt train`")
      ->required();
  cmd->add_option("--data", o->data,
                  "A text file, or a prepared data directory")
      ->required();
  cmd->add_option("--split", o->split, "Split of a prepared directory")
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Windows per batch")
      ->capture_default_str();
  cmd->add_option("--seq", o->seq, "Window length (default: the context)");
  cmd->add_option("--threads", o->threads, "CPU threads (default: all)");
  addBackendFlags(cmd, o->backend);
  cmd->add_flag("--json", o->json,
                "Print {\"loss\", \"perplexity\", \"bits_per_byte\"} as JSON");
  cmd->callback([o] {
    o->backend.threads = o->threads;
    LoadedRun run = loadRun(o->model, o->backend);
    std::int64_t T = o->seq > 0 ? o->seq : run.config.context_length;
    if (T > run.config.context_length || o->batch < 1)
      throw std::runtime_error("--seq must be at most the context length (" +
                               std::to_string(run.config.context_length) +
                               ") and --batch positive");
    std::vector<train::TokenStream> streams;
    double tokensPerByte = 0;
    if (fs::is_directory(o->data)) {
      streams = train::readPreparedSplit(o->data, o->split, &tokensPerByte);
    } else {
      std::string text = io::readFile(o->data);
      train::TokenStream s;
      for (auto id : run.tokenizer->encode(text))
        s.tokens.push_back(static_cast<std::int32_t>(id));
      if (text.empty() || s.tokens.size() < 2)
        throw std::runtime_error(o->data + ": too short to evaluate");
      tokensPerByte = static_cast<double>(s.tokens.size()) /
                      static_cast<double>(text.size());
      streams.push_back(std::move(s));
    }
    train::EvalResult r =
        train::evaluateStreams(*run.model, streams, o->batch, T);
    if (r.weightSum <= 0)
      throw std::runtime_error(o->data + ": no tokens to evaluate");
    train::finishEval(r, tokensPerByte);
    if (o->json) {
      nlohmann::ordered_json j;
      j["loss"] = r.loss;
      j["perplexity"] = r.perplexity;
      j["bits_per_byte"] = r.bitsPerByte;
      std::cout << j.dump() << "\n";
    } else {
      std::printf("loss %.4f nats/token | perplexity %.3f | %.4f bits/byte "
                  "(%.0f tokens, %.4f tokens/byte)\n",
                  r.loss, r.perplexity, r.bitsPerByte, r.weightSum,
                  r.tokensPerByte);
    }
  });
}

} // namespace gpt::cli
