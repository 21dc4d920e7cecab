// gpt generate
#include "BackendFlags.h"
#include "Commands.h"
#include "RunDir.h"

#include "train/Sampler.h"

#include <iostream>

namespace gpt::cli {

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
  cmd->add_option("--max-tokens", o->maxTokens, "Tokens to generate")
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
    o->backend.threads = o->threads;
    LoadedRun run = loadRun(o->model, o->backend);
    const auto &tok = *run.tokenizer;
    std::vector<std::int32_t> ids;
    for (auto id : tok.encodeWithSpecial(o->prompt))
      ids.push_back(static_cast<std::int32_t>(id));
    auto eot = tok.specialId(tokenizer::kEndOfText);
    auto imEnd = tok.specialId(tokenizer::kImEnd);
    if (ids.empty()) {
      if (!eot)
        throw std::runtime_error("empty prompt and no <|endoftext|> token");
      ids.push_back(static_cast<std::int32_t>(*eot));
    } else {
      std::cout << o->prompt << std::flush;
    }
    train::Sampler sampler(o->seed, o->temperature, o->topP);
    const std::int64_t C = run.config.context_length;
    std::string piece;
    for (std::int64_t i = 0; i < o->maxTokens; ++i) {
      std::int64_t start =
          std::max<std::int64_t>(0, static_cast<std::int64_t>(ids.size()) - C);
      std::vector<std::int32_t> window(ids.begin() + start, ids.end());
      auto T = static_cast<std::int64_t>(window.size());
      train::HostResult logits = run.model->forward(window, 1, T);
      const std::int64_t V = run.config.vocab_size;
      if (static_cast<std::int64_t>(logits.values.size()) != T * V)
        throw std::runtime_error("forward returned logits of an unexpected "
                                 "size");
      const float *last = logits.values.data() + (T - 1) * V;
      // Only ids the tokenizer can decode.
      std::int64_t usable =
          std::min<std::int64_t>(V, static_cast<std::int64_t>(tok.vocabSize()));
      auto next = static_cast<std::int32_t>(sampler.sample(last, usable));
      if ((eot && next == static_cast<std::int32_t>(*eot)) ||
          (imEnd && next == static_cast<std::int32_t>(*imEnd)))
        break; // end of document / of the assistant's turn
      ids.push_back(next);
      piece.clear();
      tok.decodeAppend(static_cast<tokenizer::TokenId>(next), piece);
      std::cout << piece << std::flush;
    }
    std::cout << "\n";
  });
}

} // namespace gpt::cli
