//===- ChatCommand.cpp ----------------------------------------------------===//
//
// gpt chat: an interactive terminal chat with a trained model. Streams the
// answer as it is generated, keeps the conversation (ChatML template),
// /reset, /system TEXT, /quit; Ctrl-C stops the current answer only.
#include "BackendFlags.h"
#include "Commands.h"
#include "EngineStream.h"

#include "runtime/tokenizer/ChatTemplate.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

namespace gpt::cli {
namespace fs = std::filesystem;

namespace {
std::atomic<bool> gInterrupted{false};
extern "C" void onInterrupt(int) { gInterrupted = true; }
} // namespace

void addChatCommand(CLI::App &app) {
  auto *cmd = app.add_subcommand(
      "chat", "Chat with a trained model in the terminal (/reset, "
              "/system TEXT, /quit; Ctrl-C stops an answer)");
  struct Opts {
    std::string model, system;
    int maxTokens = 256, threads = 0;
    BackendOptions backend;
    double temperature = 0.7, topP = 0.95;
    uint64_t seed = 0;
    bool hasSeed = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "Run directory of `gpt train`")
      ->required();
  cmd->add_option("--system", o->system, "System message to start with");
  cmd->add_option("--max-tokens", o->maxTokens, "Longest answer in tokens")
      ->capture_default_str();
  cmd->add_option("--temperature", o->temperature, "0: greedy")
      ->capture_default_str();
  cmd->add_option("--top-p", o->topP, "Nucleus sampling mass")
      ->capture_default_str();
  auto *seedOpt = cmd->add_option("--seed", o->seed, "Sampling seed");
  cmd->add_option("--threads", o->threads, "CPU threads (default: all)");
  addBackendFlags(cmd, o->backend);
  cmd->callback([o, seedOpt] {
    o->hasSeed = seedOpt->count() > 0;
    if (o->temperature < 0 || !(o->topP > 0 && o->topP <= 1) ||
        o->maxTokens < 1)
      throw std::runtime_error("need --temperature >= 0, 0 < --top-p <= 1 "
                               "and --max-tokens >= 1");
#ifndef GPT_HAVE_ENGINE
    throw std::runtime_error("this gpt was built without the generation "
                             "engine (runtime/engine)");
#else
    fs::path runDir(o->model);
    if (!fs::is_directory(runDir))
      throw std::runtime_error(o->model + ": not a run directory");
    auto tok = tokenizer::Tokenizer::load(runDir / "tokenizer");
    tokenizer::ChatTemplate tmpl(tok);
    EngineOptions eo;
    eo.maxBatch = 1;
    eo.threads = o->threads;
    eo.backend = o->backend.name;
    eo.device = o->backend.device;
    eo.kvCacheBytes = kvBytesForOneSequence(runDir.string());
    Engine engine(runDir.string(), eo);
    const int64_t ctx = engine.contextLength();
    const std::vector<int32_t> stops = answerStopTokens(tok);

    // Ctrl-C interrupts the answer (or the line being typed), not us.
    struct sigaction sa {};
    sa.sa_handler = onInterrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a blocked read returns
    sigaction(SIGINT, &sa, nullptr);

    std::string system = o->system;
    std::vector<tokenizer::ChatMessage> history;
    uint64_t turn = 0;
    std::cout << "gpt chat: "
              << fs::weakly_canonical(runDir).filename().string()
              << " (context " << ctx
              << " tokens). /reset, /system TEXT, /quit; Ctrl-C stops an "
                 "answer.\n";
    while (true) {
      std::cout << "> " << std::flush;
      std::string line;
      gInterrupted = false;
      if (!std::getline(std::cin, line)) {
        if (gInterrupted) { // Ctrl-C while typing: a fresh line
          std::cin.clear();
          clearerr(stdin);
          std::cout << "\n";
          continue;
        }
        std::cout << "\n";
        break; // end of input
      }
      if (line == "/quit" || line == "/exit")
        break;
      if (line == "/reset") {
        history.clear();
        std::cout << "(conversation cleared)\n";
        continue;
      }
      if (line.rfind("/system", 0) == 0) {
        system = line.size() > 8 ? line.substr(8) : "";
        std::cout << (system.empty() ? "(system message removed)\n"
                                     : "(system message set)\n");
        continue;
      }
      if (line.empty())
        continue;
      if (line[0] == '/') {
        std::cout << "unknown command (use /reset, /system TEXT, /quit)\n";
        continue;
      }
      history.push_back({tokenizer::Role::User, line, true});

      // Render; forget the oldest turns if the conversation outgrew the
      // context (said out loud, never silently).
      std::vector<int32_t> prompt;
      int64_t budget = 0;
      bool dropped = false;
      while (true) {
        std::vector<tokenizer::ChatMessage> msgs;
        if (!system.empty())
          msgs.push_back({tokenizer::Role::System, system, true});
        msgs.insert(msgs.end(), history.begin(), history.end());
        auto r = tmpl.render(msgs, true);
        prompt.assign(r.ids.begin(), r.ids.end());
        budget = ctx - static_cast<int64_t>(prompt.size());
        if (budget >= std::min<int64_t>(o->maxTokens, 16) ||
            history.size() <= 1)
          break;
        history.erase(history.begin());
        dropped = true;
      }
      if (dropped)
        std::cout << "(the oldest turns no longer fit the context and were "
                     "left out)\n";
      if (budget < 1) {
        std::cout << "(that message is too long for the model's context of "
                  << ctx << " tokens)\n";
        history.pop_back();
        continue;
      }

      SamplingParams sp;
      sp.temperature = static_cast<float>(o->temperature);
      sp.topP = static_cast<float>(o->topP);
      sp.maxTokens = static_cast<int>(std::min<int64_t>(o->maxTokens, budget));
      sp.stopTokens = stops;
      if (o->hasSeed) {
        sp.hasSeed = true;
        sp.seed = o->seed + turn;
      }
      ++turn;

      StreamedAnswer answer = streamAnswer(
          engine, tok, prompt, sp,
          [](const std::string &piece) { std::cout << piece << std::flush; },
          [] { return gInterrupted.load(); });
      if (answer.cancelled)
        std::cout << " [stopped]";
      else if (answer.finishReason == "length")
        std::cout << " [max tokens]";
      else if (answer.finishReason == "error")
        std::cout << " [error: " << answer.error << "]";
      std::cout << "\n";
      history.push_back({tokenizer::Role::Assistant, answer.text, true});
    }
#endif
  });
}

} // namespace gpt::cli
