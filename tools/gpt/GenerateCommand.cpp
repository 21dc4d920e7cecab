//===- GenerateCommand.cpp ------------------------------------------------===//
//
// gpt generate: continues a prompt on the generation engine (prefill, then
// paged-KV decode), as the server does, so it takes the server's time per
// token. The prompt and the generated text go to stdout as they come.
#include "BackendFlags.h"
#include "Commands.h"
#include "EngineStream.h"

#include "runtime/tokenizer/Tokenizer.h"

#include <filesystem>
#include <iostream>

namespace gpt::cli {
namespace fs = std::filesystem;

void addGenerateCommand(CLI::App &app) {
  auto *cmd = app.add_subcommand(
      "generate", "Continue a prompt with a trained model (prints the prompt "
                  "and the sample)");
  struct Opts {
    std::string model, prompt;
    std::int64_t maxTokens = 100;
    double temperature = 0.8, topP = 0.95;
    std::uint64_t seed = 0;
    int threads = 0;
    BackendOptions backend;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "Run directory of `gpt train`")
      ->required();
  cmd->add_option("--prompt", o->prompt, "Text to continue")->required();
  cmd->add_option("--max-tokens", o->maxTokens,
                  "Tokens to generate (at most what the context leaves)")
      ->capture_default_str();
  cmd->add_option("--temperature", o->temperature,
                  "Softmax temperature (0: greedy)")
      ->capture_default_str();
  cmd->add_option("--top-p", o->topP, "Nucleus sampling mass in (0, 1]")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Sampling seed")->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (default: all)");
  addBackendFlags(cmd, o->backend);
  cmd->callback([o] {
    if (o->temperature < 0 || !(o->topP > 0 && o->topP <= 1) ||
        o->maxTokens < 0)
      throw std::runtime_error("need --temperature >= 0, 0 < --top-p <= 1 "
                               "and --max-tokens >= 0");
#ifndef GPT_HAVE_ENGINE
    throw std::runtime_error("this gpt was built without the generation "
                             "engine (runtime/engine)");
#else
    if (!fs::is_directory(o->model))
      throw std::runtime_error(o->model + ": not a run directory");
    auto tok = tokenizer::Tokenizer::load(fs::path(o->model) / "tokenizer");
    std::vector<std::int32_t> ids;
    for (auto id : tok.encodeWithSpecial(o->prompt))
      ids.push_back(static_cast<std::int32_t>(id));
    if (ids.empty()) {
      auto eot = tok.specialId(tokenizer::kEndOfText);
      if (!eot)
        throw std::runtime_error("empty prompt and no <|endoftext|> token");
      ids.push_back(static_cast<std::int32_t>(*eot));
    }
    EngineOptions eo;
    eo.maxBatch = 1;
    eo.threads = o->threads;
    eo.backend = o->backend.name;
    eo.device = o->backend.device;
    eo.kvCacheBytes = kvBytesForOneSequence(o->model);
    Engine engine(o->model, eo);
    const std::int64_t context = engine.contextLength();
    const auto promptTokens = static_cast<std::int64_t>(ids.size());
    if (promptTokens >= context)
      throw std::runtime_error("the prompt is " + std::to_string(promptTokens) +
                               " tokens; the model's context is " +
                               std::to_string(context) +
                               " (nothing would be left to generate)");
    std::cout << o->prompt << std::flush;
    const std::int64_t room = context - promptTokens;
    if (o->maxTokens == 0) {
      std::cout << "\n";
      return;
    }
    SamplingParams sp;
    sp.temperature = static_cast<float>(o->temperature);
    sp.topP = static_cast<float>(o->topP);
    sp.hasSeed = true;
    sp.seed = o->seed;
    sp.maxTokens = static_cast<int>(std::min(o->maxTokens, room));
    sp.stopTokens = answerStopTokens(tok);
    StreamedAnswer answer = streamAnswer(
        engine, tok, std::move(ids), sp,
        [](const std::string &piece) { std::cout << piece << std::flush; });
    std::cout << "\n";
    if (answer.finishReason == "error")
      throw std::runtime_error("generation failed: " + answer.error);
    if (answer.finishReason == "length" && o->maxTokens > room)
      std::cerr << "(stopped at the model's context of " << context
                << " tokens: " << answer.tokens << " generated)\n";
#endif
  });
}

} // namespace gpt::cli
