//===- EvalChatCommand.cpp ------------------------------------------------===//
//
// gpt eval-chat: exact-match accuracy of a trained model on chat JSONL.
//
// For each conversation, every message but the last (which must be the
// assistant's) is rendered with the chat template and the generation prompt;
// the model answers greedily until <|im_end|> (or --max-tokens), and the
// trimmed answer must equal the trimmed reference exactly. Conversations are
// answered in batches: prompts of different lengths are right-padded, which
// causal attention makes harmless, and each row reads the logits at its own
// last position. Also reports the loss on the reference answers (assistant
// tokens only, one conversation per row, so no answer loses its question).
#include "BackendFlags.h"
#include "Commands.h"
#include "RunDir.h"

#include "runtime/data/ChatJsonl.h"
#include "runtime/io/FileIO.h"
#include "runtime/tokenizer/ChatTemplate.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace gpt::cli {
namespace {

using tokenizer::TokenId;

struct Item {
  std::string task; // from the line's optional "task" key, else ""
  std::vector<tokenizer::ChatMessage> messages;
  std::string reference;
  std::string answer;
  bool correct = false;
};

std::string trim(const std::string &s) {
  const char *ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos)
    return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::vector<Item> readItems(const std::string &path, std::size_t limit) {
  std::string text = io::readFile(path);
  std::vector<Item> items;
  std::size_t pos = 0, line = 0;
  while (pos < text.size() && (limit == 0 || items.size() < limit)) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos)
      end = text.size();
    std::string_view l(text.data() + pos, end - pos);
    pos = end + 1;
    ++line;
    if (l.find_first_not_of(" \t\r") == std::string_view::npos)
      continue;
    data::Conversation c = data::parseChatLine(path, line, l);
    if (c.messages.back().role != tokenizer::Role::Assistant)
      throw std::runtime_error(path + ":" + std::to_string(line) +
                               ": the last message must be the assistant's "
                               "(the reference answer)");
    Item it;
    auto j = nlohmann::json::parse(l);
    if (auto t = j.find("task"); t != j.end() && t->is_string())
      it.task = t->get<std::string>();
    it.reference = c.messages.back().content;
    c.messages.pop_back();
    it.messages = std::move(c.messages);
    items.push_back(std::move(it));
  }
  if (items.empty())
    throw std::runtime_error(path + ": no conversations");
  return items;
}

/// Greedy answers for items[begin, end), batched.
void answerBatch(LoadedRun &run, const tokenizer::ChatTemplate &chat,
                 std::vector<Item> &items, std::size_t begin, std::size_t end,
                 std::int64_t maxTokens) {
  const auto &tok = *run.tokenizer;
  const std::int64_t C = run.config.context_length;
  const std::int64_t V = run.config.vocab_size;
  const std::int64_t usable =
      std::min<std::int64_t>(V, static_cast<std::int64_t>(tok.vocabSize()));
  auto eot = tok.specialId(tokenizer::kEndOfText);
  const TokenId stop = chat.stopToken();
  struct Row {
    std::vector<std::int32_t> ids;
    std::vector<TokenId> out;
    bool done = false;
  };
  std::vector<Row> rows(end - begin);
  for (std::size_t i = begin; i < end; ++i)
    for (TokenId id : chat.render(items[i].messages, true).ids)
      rows[i - begin].ids.push_back(static_cast<std::int32_t>(id));
  for (std::int64_t step = 0; step < maxTokens; ++step) {
    std::vector<Row *> active;
    std::int64_t T = 0;
    for (Row &r : rows)
      if (!r.done) {
        active.push_back(&r);
        T = std::max<std::int64_t>(
            T,
            std::min<std::int64_t>(C, static_cast<std::int64_t>(r.ids.size())));
      }
    if (active.empty())
      break;
    const auto B = static_cast<std::int64_t>(active.size());
    std::vector<std::int32_t> tokens(static_cast<std::size_t>(B * T), 0);
    std::vector<std::int64_t> last(active.size());
    for (std::size_t b = 0; b < active.size(); ++b) {
      const auto &ids = active[b]->ids;
      auto n = std::min<std::int64_t>(C, static_cast<std::int64_t>(ids.size()));
      std::copy(ids.end() - n, ids.end(), tokens.begin() + b * T);
      last[b] = n - 1;
    }
    train::HostResult logits = run.model->forward(tokens, B, T);
    if (static_cast<std::int64_t>(logits.values.size()) != B * T * V)
      throw std::runtime_error("forward returned logits of an unexpected size");
    for (std::size_t b = 0; b < active.size(); ++b) {
      const float *l = logits.values.data() + (b * T + last[b]) * V;
      auto next = static_cast<TokenId>(std::max_element(l, l + usable) - l);
      Row &r = *active[b];
      if (next == stop || (eot && next == *eot)) {
        r.done = true;
        continue;
      }
      r.ids.push_back(static_cast<std::int32_t>(next));
      r.out.push_back(next);
      if (static_cast<std::int64_t>(r.out.size()) >= maxTokens)
        r.done = true;
    }
  }
  for (std::size_t i = begin; i < end; ++i) {
    Item &it = items[i];
    it.answer.clear();
    for (TokenId id : rows[i - begin].out)
      tok.decodeAppend(id, it.answer);
    it.correct = trim(it.answer) == trim(it.reference);
  }
}

/// Weighted loss of the full conversations (assistant tokens only).
double answerLoss(LoadedRun &run, const tokenizer::ChatTemplate &chat,
                  const std::vector<Item> &items, std::size_t batch) {
  const std::int64_t C = run.config.context_length;
  double lossSum = 0, wSum = 0;
  for (std::size_t begin = 0; begin < items.size(); begin += batch) {
    std::size_t end = std::min(items.size(), begin + batch);
    std::vector<tokenizer::RenderedChat> rendered;
    std::int64_t T = 1;
    for (std::size_t i = begin; i < end; ++i) {
      auto msgs = items[i].messages;
      msgs.push_back({tokenizer::Role::Assistant, items[i].reference, true});
      rendered.push_back(chat.render(msgs, false));
      T = std::max<std::int64_t>(
          T, std::min<std::int64_t>(
                 C, static_cast<std::int64_t>(rendered.back().ids.size()) - 1));
    }
    data::Batch b;
    b.batchSize = rendered.size();
    b.seqLen = static_cast<std::size_t>(T);
    b.inputs.assign(b.batchSize * b.seqLen, 0);
    b.targets.assign(b.batchSize * b.seqLen, 0);
    b.weights.assign(b.batchSize * b.seqLen, 0.0f);
    for (std::size_t r = 0; r < rendered.size(); ++r) {
      const auto &ids = rendered[r].ids;
      const auto &w = rendered[r].weights;
      // The last C+1 tokens (the answer is at the end).
      std::size_t start = ids.size() > static_cast<std::size_t>(C) + 1
                              ? ids.size() - static_cast<std::size_t>(C) - 1
                              : 0;
      for (std::size_t i = start; i + 1 < ids.size(); ++i) {
        std::size_t at = r * b.seqLen + (i - start);
        b.inputs[at] = static_cast<std::int32_t>(ids[i]);
        b.targets[at] = static_cast<std::int32_t>(ids[i + 1]);
        b.weights[at] = w[i + 1];
      }
    }
    double w = 0;
    double loss = run.model->evalLoss(b, &w);
    if (w > 0) {
      lossSum += loss * w;
      wSum += w;
    }
  }
  return wSum > 0 ? lossSum / wSum : 0;
}

} // namespace

void addEvalChatCommand(CLI::App &app) {
  auto *cmd = app.add_subcommand(
      "eval-chat",
      "Exact-match accuracy of a trained model on chat JSONL: each "
      "conversation's last (assistant) message is the reference answer");
  struct Opts {
    std::string model, data;
    std::size_t maxExamples = 0, batch = 16, show = 5;
    std::vector<std::string> showTasks;
    std::int64_t maxTokens = 48;
    int threads = 0;
    BackendOptions backend;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "Run directory of `gpt train`")
      ->required();
  cmd->add_option("--data", o->data,
                  "Chat JSONL (e.g. heldout.jsonl of `gpt data synth`)")
      ->required();
  cmd->add_option("--max-examples", o->maxExamples,
                  "Only the first N conversations (0: all)")
      ->capture_default_str();
  cmd->add_option("--max-tokens", o->maxTokens, "Longest answer generated")
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Conversations answered together")
      ->capture_default_str();
  cmd->add_option("--show", o->show, "Examples to print (text output)")
      ->capture_default_str();
  cmd->add_option("--show-tasks", o->showTasks,
                  "Also print the first conversation of each of these tasks "
                  "(comma-separated), right or wrong (text output)")
      ->delimiter(',');
  cmd->add_option("--threads", o->threads, "CPU threads (default: all)");
  addBackendFlags(cmd, o->backend);
  cmd->add_flag("--json", o->json,
                "Print {\"accuracy\", \"correct\", \"total\", \"loss\", "
                "\"tasks\"} as JSON");
  cmd->callback([o] {
    if (o->batch < 1 || o->maxTokens < 1)
      throw std::runtime_error("--batch and --max-tokens must be positive");
    std::vector<Item> items = readItems(o->data, o->maxExamples);
    for (const std::string &t : o->showTasks)
      if (std::none_of(items.begin(), items.end(),
                       [&](const Item &it) { return it.task == t; }))
        throw std::runtime_error("--show-tasks: no conversation of task '" + t +
                                 "' in " + o->data);
    o->backend.threads = o->threads;
    LoadedRun run = loadRun(o->model, o->backend);
    tokenizer::ChatTemplate chat(*run.tokenizer);
    const bool tty = isatty(2);
    for (std::size_t b = 0; b < items.size(); b += o->batch) {
      answerBatch(run, chat, items, b, std::min(items.size(), b + o->batch),
                  o->maxTokens);
      if (tty)
        std::fprintf(stderr, "\reval-chat: %zu/%zu",
                     std::min(items.size(), b + o->batch), items.size());
    }
    if (tty)
      std::fprintf(stderr, "\n");
    double loss = answerLoss(run, chat, items, o->batch);

    std::size_t correct = 0;
    std::map<std::string, std::pair<std::size_t, std::size_t>> perTask;
    for (const Item &it : items) {
      correct += it.correct;
      auto &t = perTask[it.task.empty() ? "all" : it.task];
      t.first += it.correct;
      ++t.second;
    }
    double acc =
        static_cast<double>(correct) / static_cast<double>(items.size());
    if (o->json) {
      nlohmann::ordered_json j;
      j["accuracy"] = acc;
      j["correct"] = correct;
      j["total"] = items.size();
      j["loss"] = loss;
      for (const auto &[name, t] : perTask)
        j["tasks"][name] = {{"correct", t.first}, {"total", t.second}};
      std::cout << j.dump() << "\n";
      return;
    }
    std::printf("exact-match accuracy %.1f%% (%zu/%zu) | answer loss %.4f "
                "nats/token\n",
                100.0 * acc, correct, items.size(), loss);
    if (perTask.size() > 1 || !perTask.count("all"))
      for (const auto &[name, t] : perTask)
        std::printf("  %-14s %5.1f%% (%zu/%zu)\n", name.c_str(),
                    100.0 * static_cast<double>(t.first) /
                        static_cast<double>(t.second),
                    t.first, t.second);
    // A few examples: mistakes first, then correct answers; then the first
    // of each --show-tasks task, whatever its outcome (each shown once).
    std::vector<const Item *> shown;
    for (int pass = 0; pass < 2; ++pass)
      for (const Item &it : items)
        if (shown.size() < o->show && it.correct == (pass == 1))
          shown.push_back(&it);
    for (const std::string &t : o->showTasks)
      for (const Item &it : items)
        if (it.task == t) {
          if (std::find(shown.begin(), shown.end(), &it) == shown.end())
            shown.push_back(&it); // not twice when it was a first mistake
          break;
        }
    for (const Item *it : shown) {
      std::string q;
      for (const auto &m : it->messages)
        if (m.role == tokenizer::Role::User)
          q = m.content; // the last question
      std::printf("  [%s] %s%s -> %s%s\n", it->correct ? "ok" : "wrong",
                  it->task.empty() ? "" : (it->task + ": ").c_str(), q.c_str(),
                  trim(it->answer).c_str(),
                  it->correct ? ""
                              : (" (expected " + it->reference + ")").c_str());
    }
  });
}

} // namespace gpt::cli
