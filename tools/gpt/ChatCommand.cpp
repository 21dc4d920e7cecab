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

struct ChatOptions {
  std::string model, system;
  int maxTokens = 256, threads = 0;
  BackendOptions backend;
  double temperature = 0.7, topP = 0.95;
  uint64_t seed = 0;
  bool hasSeed = false;
};

#ifdef GPT_HAVE_ENGINE
/// The conversation so far: the system message and the turns.
struct Conversation {
  std::string system;
  std::vector<tokenizer::ChatMessage> history;
};

/// Handles a /command line; false when the line is a message to answer.
/// Sets quit for /quit and /exit.
bool handleCommand(const std::string &line, Conversation &conv, bool &quit) {
  if (line == "/quit" || line == "/exit") {
    quit = true;
    return true;
  }
  if (line == "/reset") {
    conv.history.clear();
    std::cout << "(conversation cleared)\n";
    return true;
  }
  if (line.rfind("/system", 0) == 0) {
    conv.system = line.size() > 8 ? line.substr(8) : "";
    std::cout << (conv.system.empty() ? "(system message removed)\n"
                                      : "(system message set)\n");
    return true;
  }
  if (line.empty())
    return true;
  if (line[0] == '/') {
    std::cout << "unknown command (use /reset, /system TEXT, /quit)\n";
    return true;
  }
  return false;
}

/// Renders the conversation; forgets the oldest turns if it outgrew the
/// context (said out loud, never silently). Returns the room left for the
/// answer (< 1: the last message alone does not fit).
int64_t renderWithinContext(const tokenizer::ChatTemplate &tmpl,
                            Conversation &conv, int64_t ctx, int maxTokens,
                            std::vector<int32_t> &prompt) {
  int64_t budget = 0;
  bool dropped = false;
  while (true) {
    std::vector<tokenizer::ChatMessage> msgs;
    if (!conv.system.empty())
      msgs.push_back({tokenizer::Role::System, conv.system, true});
    msgs.insert(msgs.end(), conv.history.begin(), conv.history.end());
    auto r = tmpl.render(msgs, true);
    prompt.assign(r.ids.begin(), r.ids.end());
    budget = ctx - static_cast<int64_t>(prompt.size());
    if (budget >= std::min<int64_t>(maxTokens, 16) || conv.history.size() <= 1)
      break;
    conv.history.erase(conv.history.begin());
    dropped = true;
  }
  if (dropped)
    std::cout << "(the oldest turns no longer fit the context and were "
                 "left out)\n";
  return budget;
}

/// Reads a line; false at the end of input. Ctrl-C while typing gives a
/// fresh prompt.
bool readLine(std::string &line) {
  while (true) {
    std::cout << "> " << std::flush;
    gInterrupted = false;
    if (std::getline(std::cin, line))
      return true;
    std::cout << "\n";
    if (!gInterrupted)
      return false;
    std::cin.clear();
    clearerr(stdin);
  }
}

/// Streams one answer to stdout and says how it ended.
std::string answer(Engine &engine, const tokenizer::Tokenizer &tok,
                   const std::vector<int32_t> &prompt,
                   const SamplingParams &sp) {
  StreamedAnswer a = streamAnswer(
      engine, tok, prompt, sp,
      [](const std::string &piece) { std::cout << piece << std::flush; },
      [] { return gInterrupted.load(); });
  if (a.cancelled)
    std::cout << " [stopped]";
  else if (a.finishReason == "length")
    std::cout << " [max tokens]";
  else if (a.finishReason == "error")
    std::cout << " [error: " << a.error << "]";
  std::cout << "\n";
  return a.text;
}

void runChat(const ChatOptions &o) {
  fs::path runDir(o.model);
  if (!fs::is_directory(runDir))
    throw std::runtime_error(o.model + ": not a run directory");
  auto tok = tokenizer::Tokenizer::load(runDir / "tokenizer");
  tokenizer::ChatTemplate tmpl(tok);
  EngineOptions eo;
  eo.maxBatch = 1;
  eo.threads = o.threads;
  eo.backend = o.backend.name;
  eo.device = o.backend.device;
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

  Conversation conv{o.system, {}};
  uint64_t turn = 0;
  std::cout << "gpt chat: " << fs::weakly_canonical(runDir).filename().string()
            << " (context " << ctx
            << " tokens). /reset, /system TEXT, /quit; Ctrl-C stops an "
               "answer.\n";
  std::string line;
  bool quit = false;
  while (!quit && readLine(line)) {
    if (handleCommand(line, conv, quit))
      continue;
    conv.history.push_back({tokenizer::Role::User, line, true});
    std::vector<int32_t> prompt;
    int64_t budget = renderWithinContext(tmpl, conv, ctx, o.maxTokens, prompt);
    if (budget < 1) {
      std::cout << "(that message is too long for the model's context of "
                << ctx << " tokens)\n";
      conv.history.pop_back();
      continue;
    }
    SamplingParams sp;
    sp.temperature = static_cast<float>(o.temperature);
    sp.topP = static_cast<float>(o.topP);
    sp.maxTokens = static_cast<int>(std::min<int64_t>(o.maxTokens, budget));
    sp.stopTokens = stops;
    if (o.hasSeed) {
      sp.hasSeed = true;
      sp.seed = o.seed + turn;
    }
    ++turn;
    conv.history.push_back(
        {tokenizer::Role::Assistant, answer(engine, tok, prompt, sp), true});
  }
}
#endif
} // namespace

void addChatCommand(CLI::App &app) {
  auto *cmd = app.add_subcommand(
      "chat", "Chat with a trained model in the terminal (/reset, "
              "/system TEXT, /quit; Ctrl-C stops an answer)");
  auto o = std::make_shared<ChatOptions>();
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
    runChat(*o);
#endif
  });
}

} // namespace gpt::cli
