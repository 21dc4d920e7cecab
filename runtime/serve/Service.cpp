//===- Service.cpp --------------------------------------------------------===//
#include "runtime/serve/Service.h"

#include "runtime/serve/TextStream.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <random>
#include <sstream>

namespace gpt::serve {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string randomHex(int n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char *digits = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i)
    s += digits[rng() & 15];
  return s;
}

std::string sse(const json &j) { return "data: " + j.dump() + "\n\n"; }

json byteArray(const std::string &bytes) {
  json a = json::array();
  for (unsigned char c : bytes)
    a.push_back(static_cast<int>(c));
  return a;
}

} // namespace

// ---------------------------------------------------------------------------
// Job

namespace {

struct TokenRecord {
  int32_t id;
  size_t rawOffset; // of its bytes in the raw generated text
  std::string bytes;
  float logprob;
  std::vector<std::pair<int32_t, float>> top;
};

struct Choice {
  int index = 0;
  size_t promptIndex = 0;
  std::vector<int32_t> prompt;
  std::string echo; // prompt text sent before the completion (echo)
  /// echo + logprobs: the model's scores of the prompt tokens after the
  /// first (the first has none: null, as OpenAI's).
  std::vector<PromptTokenScore> promptScores;
  SamplingParams params;
  uint64_t engineId = 0;
  bool submitted = false, finished = false, released = false;
  std::string finishReason, error;
  std::unique_ptr<TextStream> text;
  int64_t completionTokens = 0;
  std::vector<TokenRecord> tokens;
  size_t tokensSent = 0; // streamed logprobs so far
};

struct Inbox {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::pair<size_t, TokenEvent>> events;
};

} // namespace

struct Job::Impl {
  Service &svc;
  GenerationRequest req;
  std::string id;
  int64_t created = unixNow();
  std::vector<Choice> choices;
  std::vector<std::vector<int32_t>> promptTokens; // per prompt
  std::shared_ptr<Inbox> inbox = std::make_shared<Inbox>();
  size_t unfinished = 0;

  Impl(Service &s, GenerationRequest r) : svc(s), req(std::move(r)) {}

  bool chat() const { return req.endpoint == Endpoint::ChatCompletions; }

  std::string tokenBytes(int32_t id) const {
    std::string out;
    if (id < 0 || static_cast<size_t>(id) >= svc.tokenizer_.vocabSize())
      return out;
    svc.tokenizer_.decodeAppend(static_cast<tokenizer::TokenId>(id), out);
    return out;
  }
  bool isStopToken(int32_t id) const {
    for (int32_t s : svc.stopTokens_)
      if (s == id)
        return true;
    return false;
  }

  void finish(Choice &c, std::string reason) {
    if (c.finished)
      return;
    c.finished = true;
    c.finishReason = std::move(reason);
    --unfinished;
    if (c.submitted && !c.released) {
      c.released = true;
      svc.release(1);
    }
  }

  void cancelAll() {
    for (Choice &c : choices)
      if (!c.finished) {
        if (c.submitted)
          svc.backend_.cancel(c.engineId);
        finish(c, "cancelled");
      }
    ++svc.disconnects_;
  }

  /// Applies one engine event; returns the new text of the choice.
  std::string apply(Choice &c, const TokenEvent &ev) {
    if (c.finished)
      return {};
    std::string delta;
    if (ev.token >= 0) {
      ++c.completionTokens;
      ++svc.generatedTokens_;
      if (!isStopToken(ev.token)) {
        TokenRecord rec{ev.token, c.text->rawPushed(), tokenBytes(ev.token),
                        ev.logprob, ev.topLogprobs};
        delta = c.text->push(rec.bytes);
        c.tokens.push_back(std::move(rec));
        if (c.text->stopped()) {
          if (c.submitted)
            svc.backend_.cancel(c.engineId);
          finish(c, "stop");
          return delta;
        }
      }
    }
    if (ev.finished) {
      delta += c.text->finish();
      if (ev.finishReason == "stop" || ev.finishReason == "length") {
        finish(c, ev.finishReason);
      } else {
        c.error = ev.finishReason == "error" && !ev.error.empty()
                      ? ev.error
                      : "generation was " + ev.finishReason;
        finish(c, "error");
      }
    }
    return delta;
  }

  // Tokens whose text was emitted (a stop sequence cuts the rest).
  size_t visibleTokens(const Choice &c) const {
    if (!c.text->stopped() && c.finished)
      return c.tokens.size();
    size_t n = 0;
    while (n < c.tokens.size() && c.tokens[n].rawOffset < c.text->rawEmitted())
      ++n;
    return n;
  }

  json completionLogprobs(const Choice &c, size_t from, size_t to,
                          bool withPrompt, size_t textOffset) const {
    json tokens = json::array(), lps = json::array(), tops = json::array(),
         offsets = json::array();
    if (withPrompt) {
      for (size_t i = 0; i < c.prompt.size(); ++i) {
        std::string b = tokenBytes(c.prompt[i]);
        tokens.push_back(sanitizeUtf8(b));
        if (i >= 1 && i - 1 < c.promptScores.size()) {
          const PromptTokenScore &sc = c.promptScores[i - 1];
          lps.push_back(sc.logprob);
          json top = json::object();
          for (auto &[id, lp] : sc.top)
            top[sanitizeUtf8(tokenBytes(id))] = lp;
          tops.push_back(top);
        } else {
          lps.push_back(nullptr);
          tops.push_back(nullptr);
        }
        offsets.push_back(textOffset);
        textOffset += b.size();
      }
    }
    for (size_t i = from; i < to; ++i) {
      const TokenRecord &t = c.tokens[i];
      tokens.push_back(sanitizeUtf8(t.bytes));
      lps.push_back(t.logprob);
      json top = json::object();
      for (auto &[id, lp] : t.top)
        top[sanitizeUtf8(tokenBytes(id))] = lp;
      tops.push_back(top);
      offsets.push_back(textOffset + t.rawOffset);
    }
    return {{"tokens", tokens},
            {"token_logprobs", lps},
            {"top_logprobs", tops},
            {"text_offset", offsets}};
  }

  json chatLogprobs(const Choice &c, size_t from, size_t to) const {
    json content = json::array();
    for (size_t i = from; i < to; ++i) {
      const TokenRecord &t = c.tokens[i];
      json top = json::array();
      for (auto &[id, lp] : t.top) {
        std::string b = tokenBytes(id);
        top.push_back({{"token", sanitizeUtf8(b)},
                       {"logprob", lp},
                       {"bytes", byteArray(b)}});
      }
      content.push_back({{"token", sanitizeUtf8(t.bytes)},
                         {"logprob", t.logprob},
                         {"bytes", byteArray(t.bytes)},
                         {"top_logprobs", top}});
    }
    return {{"content", content}, {"refusal", nullptr}};
  }

  json usage() const {
    int64_t prompt = 0, completion = 0;
    for (const auto &p : promptTokens)
      prompt += static_cast<int64_t>(p.size());
    for (const Choice &c : choices)
      completion += c.completionTokens;
    return {{"prompt_tokens", prompt},
            {"completion_tokens", completion},
            {"total_tokens", prompt + completion}};
  }

  json envelope(const char *object) const {
    return {{"id", id},
            {"object", object},
            {"created", created},
            {"model", svc.options_.modelName},
            {"system_fingerprint", nullptr}};
  }

  void throwIfError() const {
    for (const Choice &c : choices)
      if (c.finishReason == "error")
        throw ApiError(500, "generation failed: " + c.error, "", "",
                       "server_error");
  }

  /// Waits for events and applies them until every choice has finished.
  /// `onDelta(choice, text)` runs for new text and on a choice's end; false
  /// from it or `closed` cancels everything.
  bool pump(const ClosedFn &closed,
            const std::function<bool(Choice &, const std::string &)> &onDelta) {
    auto lastCheck = Clock::now();
    while (unfinished > 0) {
      std::deque<std::pair<size_t, TokenEvent>> batch;
      {
        std::unique_lock<std::mutex> lock(inbox->m);
        inbox->cv.wait_for(lock, std::chrono::milliseconds(50),
                           [&] { return !inbox->events.empty(); });
        batch.swap(inbox->events);
      }
      for (auto &[index, ev] : batch) {
        Choice &c = choices[index];
        if (c.finished)
          continue;
        std::string delta = apply(c, ev);
        if (onDelta && (!delta.empty() || c.finished) && !onDelta(c, delta)) {
          cancelAll();
          return false;
        }
      }
      if (closed && Clock::now() - lastCheck > std::chrono::milliseconds(50)) {
        lastCheck = Clock::now();
        if (closed()) {
          cancelAll();
          return false;
        }
      }
    }
    return true;
  }

  json collect(const ClosedFn &closed) {
    if (!pump(closed, nullptr))
      return nullptr;
    throwIfError();
    json out = envelope(chat() ? "chat.completion" : "text_completion");
    json list = json::array();
    for (Choice &c : choices) {
      json lp = nullptr;
      size_t visible = visibleTokens(c);
      if (req.logprobs >= 0)
        lp = chat() ? chatLogprobs(c, 0, visible)
                    : completionLogprobs(c, 0, visible, req.echo, 0);
      if (chat())
        list.push_back({{"index", c.index},
                        {"message",
                         {{"role", "assistant"},
                          {"content", c.text->text()},
                          {"refusal", nullptr}}},
                        {"logprobs", lp},
                        {"finish_reason", c.finishReason}});
      else
        list.push_back({{"index", c.index},
                        {"text", c.echo + c.text->text()},
                        {"logprobs", lp},
                        {"finish_reason", c.finishReason}});
    }
    out["choices"] = list;
    out["usage"] = usage();
    return out;
  }

  json chunk(const Choice &c, const std::string &delta, bool first) {
    json out = envelope(chat() ? "chat.completion.chunk" : "text_completion");
    json lp = nullptr;
    if (req.logprobs >= 0 && !first) {
      size_t visible = visibleTokens(c);
      if (visible > c.tokensSent) {
        lp = chat() ? chatLogprobs(c, c.tokensSent, visible)
                    : completionLogprobs(c, c.tokensSent, visible, false,
                                         c.echo.size());
      } else if (chat()) {
        lp = chatLogprobs(c, 0, 0);
      }
    }
    json fr = c.finished && !first ? json(c.finishReason) : json(nullptr);
    if (chat()) {
      json d = json::object();
      if (first)
        d = {{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}};
      else if (!delta.empty())
        d = {{"content", delta}};
      out["choices"] = json::array({{{"index", c.index},
                                     {"delta", d},
                                     {"logprobs", lp},
                                     {"finish_reason", fr}}});
    } else {
      out["choices"] = json::array({{{"index", c.index},
                                     {"text", delta},
                                     {"logprobs", lp},
                                     {"finish_reason", fr}}});
    }
    if (req.includeUsage)
      out["usage"] = nullptr;
    return out;
  }

  bool stream(const WriteFn &write, const ClosedFn &closed) {
    // Opening chunks: the assistant role (chat) or the echoed prompt.
    for (Choice &c : choices) {
      if (chat()) {
        if (!write(sse(chunk(c, "", true)))) {
          cancelAll();
          return false;
        }
      } else if (req.echo && !c.echo.empty()) {
        json j = chunk(c, c.echo, true);
        if (req.logprobs >= 0)
          j["choices"][0]["logprobs"] = completionLogprobs(c, 0, 0, true, 0);
        if (!write(sse(j))) {
          cancelAll();
          return false;
        }
      }
    }
    // Choices that finished before submission (max_tokens 0).
    for (Choice &c : choices)
      if (c.finished && !write(sse(chunk(c, "", false)))) {
        cancelAll();
        return false;
      }
    bool ok = pump(closed, [&](Choice &c, const std::string &delta) {
      if (c.finishReason == "error") {
        ApiError e(500, "generation failed: " + c.error, "", "",
                   "server_error");
        return write(sse(e.body()));
      }
      json j = chunk(c, delta, false);
      c.tokensSent = std::max(c.tokensSent, visibleTokens(c));
      return write(sse(j));
    });
    if (!ok)
      return false;
    for (const Choice &c : choices)
      if (c.finishReason == "error")
        return true; // the error event ends the stream
    if (req.includeUsage) {
      json u = envelope(chat() ? "chat.completion.chunk" : "text_completion");
      u["choices"] = json::array();
      u["usage"] = usage();
      if (!write(sse(u)))
        return false;
    }
    return write("data: [DONE]\n\n");
  }
};

Job::Job(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Job::~Job() {
  for (Choice &c : impl_->choices)
    if (!c.finished) {
      if (c.submitted)
        impl_->svc.backend_.cancel(c.engineId);
      impl_->finish(c, "cancelled");
    }
}

bool Job::streaming() const { return impl_->req.stream; }

json Job::collect(const ClosedFn &closed) { return impl_->collect(closed); }

bool Job::stream(const WriteFn &write, const ClosedFn &closed) {
  return impl_->stream(write, closed);
}

// ---------------------------------------------------------------------------
// Service

Service::Service(Backend &backend, const tokenizer::Tokenizer &tokenizer,
                 ServiceOptions options)
    : backend_(backend), tokenizer_(tokenizer), options_(std::move(options)) {
  if (tokenizer_.specialId(tokenizer::kImStart) &&
      tokenizer_.specialId(tokenizer::kImEnd))
    chatTemplate_ = std::make_unique<tokenizer::ChatTemplate>(tokenizer_);
  for (const char *s : {tokenizer::kEndOfText, tokenizer::kImEnd})
    if (auto id = tokenizer_.specialId(s))
      stopTokens_.push_back(static_cast<int32_t>(*id));
  if (options_.created == 0)
    options_.created = unixNow();
  // The longest token in bytes bounds how much text fits the context.
  for (size_t id = 0; id < tokenizer_.vocabSize(); ++id)
    longestTokenBytes_ = std::max(
        longestTokenBytes_,
        tokenizer_.decode({static_cast<tokenizer::TokenId>(id)}).size());
  longestTokenBytes_ = std::max<size_t>(longestTokenBytes_, 1);
}

Service::~Service() = default;

void Service::checkTextFits(const GenerationRequest &req) const {
  const int64_t ctx = backend_.contextLength();
  const uint64_t limit = static_cast<uint64_t>(ctx) * longestTokenBytes_;
  auto refuse = [&](uint64_t bytes, const char *param) {
    throw ApiError(
        400,
        "This model's maximum context length is " + std::to_string(ctx) +
            " tokens, and the " + param + " has " + std::to_string(bytes) +
            " bytes of text, more than any " + std::to_string(ctx) +
            " tokens can hold (" + std::to_string(limit) +
            " bytes). Please reduce the length of the " + param + ".",
        param, "context_length_exceeded");
  };
  if (req.endpoint == Endpoint::ChatCompletions) {
    uint64_t bytes = 0;
    for (const auto &m : req.messages)
      bytes += m.content.size();
    if (bytes > limit)
      refuse(bytes, "messages");
  } else {
    for (const PromptInput &p : req.prompts)
      if (!p.isTokens && p.text.size() > limit)
        refuse(p.text.size(), "prompt");
  }
}

void Service::authorize(std::string_view authorization) const {
  if (options_.apiKey.empty())
    return;
  const std::string_view prefix = "Bearer ";
  // Constant time in the key's bytes: the comparison does not stop at the
  // first mismatch (a timing oracle on the loopback is still an oracle).
  std::string_view given =
      authorization.substr(std::min(prefix.size(), authorization.size()));
  const std::string &key = options_.apiKey;
  unsigned diff = given.size() != key.size() ? 1u : 0u;
  for (size_t i = 0; i < key.size(); ++i)
    diff |= static_cast<unsigned char>(key[i]) ^
            static_cast<unsigned char>(i < given.size() ? given[i] : 0);
  if (authorization.substr(0, prefix.size()) != prefix || diff != 0)
    throw ApiError(401,
                   authorization.empty()
                       ? "You didn't provide an API key. Pass it in the "
                         "Authorization header: 'Authorization: Bearer KEY'."
                       : "Incorrect API key provided.",
                   "", "invalid_api_key");
}

bool Service::reserve(size_t n) {
  if (options_.maxPending == 0) {
    pending_ += static_cast<int64_t>(n);
    return true;
  }
  int64_t cur = pending_.load();
  do {
    if (cur + static_cast<int64_t>(n) >
        static_cast<int64_t>(options_.maxPending))
      return false;
  } while (!pending_.compare_exchange_weak(cur, cur + static_cast<int64_t>(n)));
  return true;
}

void Service::release(size_t n) { pending_ -= static_cast<int64_t>(n); }

void Service::countError(int status) {
  std::lock_guard<std::mutex> lock(errorsMutex_);
  ++errors_[status];
}

void Service::admit() const {
  if (draining_)
    throw ApiError(503, "the server is shutting down", "", "", "");
  if (options_.maxPending != 0 &&
      pending_.load() >= static_cast<int64_t>(options_.maxPending))
    throw ApiError(429,
                   "the server is busy (the request queue is full); "
                   "retry later",
                   "", "rate_limit_exceeded");
}

void Service::checkModelAndBias(const GenerationRequest &req) const {
  if (req.model != options_.modelName)
    throw ApiError(404,
                   "The model '" + req.model +
                       "' does not exist (this "
                       "server serves '" +
                       options_.modelName + "')",
                   "model", "model_not_found");
  for (const auto &[id, bias] : req.logitBias)
    if (id >= static_cast<int64_t>(tokenizer_.vocabSize()))
      throw ApiError(400,
                     "logit_bias names token " + std::to_string(id) +
                         ", outside the vocabulary (0.." +
                         std::to_string(tokenizer_.vocabSize() - 1) + ")",
                     "logit_bias");
}

std::vector<std::string> Service::tokenizePrompts(Job::Impl &job) const {
  const GenerationRequest &req = job.req;
  std::vector<std::string> echoes;
  if (job.chat()) {
    if (!chatTemplate_)
      throw ApiError(400,
                     "this model's tokenizer has no chat template "
                     "(<|im_start|>, <|im_end|>)",
                     "messages");
    tokenizer::RenderedChat r = chatTemplate_->render(req.messages, true);
    job.promptTokens.emplace_back(r.ids.begin(), r.ids.end());
    echoes.emplace_back();
    return echoes;
  }
  for (const PromptInput &in : req.prompts) {
    std::vector<int32_t> ids;
    if (in.isTokens) {
      for (int64_t t : in.tokens) {
        if (t < 0 || static_cast<uint64_t>(t) >= tokenizer_.vocabSize())
          throw ApiError(400,
                         "token id " + std::to_string(t) +
                             " is outside the vocabulary (0.." +
                             std::to_string(tokenizer_.vocabSize() - 1) + ")",
                         "prompt");
        ids.push_back(static_cast<int32_t>(t));
      }
      std::vector<tokenizer::TokenId> u(ids.begin(), ids.end());
      echoes.push_back(sanitizeUtf8(tokenizer_.decode(u)));
    } else {
      for (auto id : tokenizer_.encodeWithSpecial(in.text))
        ids.push_back(static_cast<int32_t>(id));
      echoes.push_back(in.text);
    }
    job.promptTokens.push_back(std::move(ids));
  }
  return echoes;
}

// Prompts are never truncated. A completion that would run past the context
// stops there, with finish_reason "length", like one that reaches max_tokens
// (docs/serving.md); a prompt that leaves no room for the completion asked
// for is refused.
std::vector<int64_t> Service::completionBudgets(const Job::Impl &job) const {
  const GenerationRequest &req = job.req;
  const bool chat = job.chat();
  const char *promptParam = chat ? "messages" : "prompt";
  const int64_t ctx = backend_.contextLength();
  std::vector<int64_t> maxTokens;
  for (const auto &ids : job.promptTokens) {
    int64_t promptLen = static_cast<int64_t>(ids.size());
    // The model needs at least one token to continue from.
    int64_t engineLen = promptLen == 0 ? 1 : promptLen;
    int64_t room = ctx - engineLen;
    int64_t m = req.maxTokens ? *req.maxTokens : (chat ? room : 16);
    if (room < (chat || m > 0 ? 1 : 0))
      throw ApiError(
          400,
          "This model's maximum context length is " + std::to_string(ctx) +
              " tokens. However, the " + promptParam + " has " +
              std::to_string(engineLen) +
              " tokens, which leaves no room for the completion. Please "
              "reduce the length of the " +
              promptParam + ".",
          promptParam, "context_length_exceeded");
    maxTokens.push_back(std::min(m, room));
  }
  return maxTokens;
}

// echo + logprobs: the model scores each prompt once (what evaluation
// harnesses such as lm-evaluation-harness ask for, with max_tokens 0).
std::vector<std::vector<PromptTokenScore>>
Service::scorePrompts(const Job::Impl &job) {
  const GenerationRequest &req = job.req;
  std::vector<std::vector<PromptTokenScore>> scores(job.promptTokens.size());
  if (job.chat() || !req.echo || req.logprobs < 0)
    return scores;
  for (size_t p = 0; p < job.promptTokens.size(); ++p) {
    if (job.promptTokens[p].size() < 2)
      continue;
    try {
      scores[p] = backend_.scorePrompt(job.promptTokens[p], req.logprobs);
    } catch (const EngineError &e) {
      throw ApiError(500, std::string("cannot score the prompt: ") + e.what(),
                     "", "", "server_error");
    }
  }
  return scores;
}

/// The sampling parameters of choice `j` (of n) of a request.
SamplingParams Service::samplingParams(const GenerationRequest &req, int j,
                                       int64_t maxTokens) const {
  SamplingParams s;
  s.temperature = req.topP == 0.0 ? 0.0f : static_cast<float>(req.temperature);
  s.topP = static_cast<float>(req.topP == 0.0 ? 1.0 : req.topP);
  s.topK = req.topK;
  s.presencePenalty = static_cast<float>(req.presencePenalty);
  s.frequencyPenalty = static_cast<float>(req.frequencyPenalty);
  if (req.seed) {
    s.hasSeed = true;
    s.seed = static_cast<uint64_t>(*req.seed) + static_cast<uint64_t>(j);
  }
  s.maxTokens = static_cast<int>(maxTokens);
  s.logprobs = req.logprobs;
  s.stopTokens = stopTokens_;
  for (const auto &[id, bias] : req.logitBias)
    s.logitBias.push_back({static_cast<int32_t>(id), static_cast<float>(bias)});
  return s;
}

size_t Service::makeChoices(
    Job::Impl &job, const std::vector<std::string> &echoes,
    const std::vector<int64_t> &maxTokens,
    const std::vector<std::vector<PromptTokenScore>> &promptScores) const {
  const GenerationRequest &req = job.req;
  size_t toSubmit = 0;
  for (size_t p = 0; p < job.promptTokens.size(); ++p)
    for (int j = 0; j < req.n; ++j) {
      Choice c;
      c.index = static_cast<int>(p) * req.n + j;
      c.promptIndex = p;
      c.prompt = job.promptTokens[p];
      if (req.echo) {
        c.echo = echoes[p];
        if (req.logprobs >= 0)
          c.promptScores = promptScores[p];
      }
      c.text = std::make_unique<TextStream>(req.stop);
      c.params = samplingParams(req, j, maxTokens[p]);
      if (c.params.maxTokens == 0)
        c.finished = true, c.finishReason = "length";
      else
        ++toSubmit;
      job.choices.push_back(std::move(c));
    }
  return toSubmit;
}

// Submits every unfinished choice to the backend; on failure, releases the
// reservations not yet used and lets the Job cancel what was submitted.
void Service::submitChoices(std::unique_ptr<Job::Impl> &impl, size_t reserved) {
  try {
    for (size_t i = 0; i < impl->choices.size(); ++i) {
      Choice &c = impl->choices[i];
      if (c.finished)
        continue;
      std::vector<int32_t> prompt = c.prompt;
      if (prompt.empty())
        prompt.push_back(stopTokens_.empty() ? 0 : stopTokens_.front());
      std::weak_ptr<Inbox> inbox = impl->inbox;
      c.engineId = backend_.submit(
          std::move(prompt), c.params, [inbox, i](const TokenEvent &ev) {
            if (auto box = inbox.lock()) {
              {
                std::lock_guard<std::mutex> lock(box->m);
                box->events.emplace_back(i, ev);
              }
              box->cv.notify_one();
            }
          });
      c.submitted = true;
      --reserved;
      promptTokens_ += static_cast<int64_t>(c.prompt.size());
    }
  } catch (const EngineError &e) {
    release(reserved);
    const char *promptParam = impl->chat() ? "messages" : "prompt";
    // The Job destructor cancels and releases what was submitted.
    Job cleanup(std::move(impl));
    std::string msg = e.what();
    if (msg.find("queue") != std::string::npos)
      throw ApiError(429, "the server is busy: " + msg, "",
                     "rate_limit_exceeded");
    throw ApiError(400, msg, promptParam);
  }
}

// Parse, check what is cheap to check (queue, text length, model, bias)
// before any BPE work, tokenize, size each completion, build the n choices
// per prompt and submit them.
std::unique_ptr<Job> Service::start(Endpoint endpoint, std::string_view body) {
  admit();
  GenerationRequest req = parseGenerationRequest(endpoint, body);
  bool chat = endpoint == Endpoint::ChatCompletions;
  (chat ? chatRequests_ : completionRequests_)++;
  checkTextFits(req);
  checkModelAndBias(req);

  auto impl = std::make_unique<Job::Impl>(*this, req);
  impl->id = (chat ? "chatcmpl-" : "cmpl-") + randomHex(24);
  std::vector<std::string> echoes = tokenizePrompts(*impl);
  std::vector<int64_t> maxTokens = completionBudgets(*impl);
  auto promptScores = scorePrompts(*impl);
  size_t toSubmit = makeChoices(*impl, echoes, maxTokens, promptScores);
  impl->unfinished = toSubmit;
  if (!reserve(toSubmit))
    throw ApiError(429,
                   "the server is busy (the request queue is full); "
                   "retry later",
                   "", "rate_limit_exceeded");
  submitChoices(impl, toSubmit);
  return std::unique_ptr<Job>(new Job(std::move(impl)));
}

json Service::models() const {
  json m = {{"id", options_.modelName},
            {"object", "model"},
            {"created", options_.created},
            {"owned_by", "gpt"},
            {"context_length", backend_.contextLength()}};
  return {{"object", "list"}, {"data", json::array({m})}};
}

json Service::health() const {
  return {{"status", draining_ ? "shutting_down" : "ok"}};
}

std::string Service::metrics() const {
  EngineStats s = backend_.stats();
  std::ostringstream o;
  auto metric = [&](const char *name, const char *type, const char *help,
                    auto value, const std::string &labels = "") {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type
      << "\n"
      << name << labels << " " << value << "\n";
  };
  o << "# HELP gpt_requests_total Generation requests received, by "
       "endpoint.\n# TYPE gpt_requests_total counter\n"
    << "gpt_requests_total{endpoint=\"completions\"} " << completionRequests_
    << "\n"
    << "gpt_requests_total{endpoint=\"chat_completions\"} " << chatRequests_
    << "\n";
  {
    std::lock_guard<std::mutex> lock(errorsMutex_);
    o << "# HELP gpt_request_errors_total Error responses, by HTTP "
         "status.\n# TYPE gpt_request_errors_total counter\n";
    for (auto &[status, n] : errors_)
      o << "gpt_request_errors_total{status=\"" << status << "\"} " << n
        << "\n";
  }
  metric("gpt_prompt_tokens_total", "counter",
         "Prompt tokens submitted to the engine.", promptTokens_.load());
  metric("gpt_generated_tokens_total", "counter",
         "Tokens generated for clients.", generatedTokens_.load());
  metric("gpt_client_disconnects_total", "counter",
         "Requests cancelled because the client went away.",
         disconnects_.load());
  metric("gpt_engine_requests_total", "counter",
         "Requests the engine accepted.", s.requests);
  metric("gpt_engine_generated_tokens_total", "counter",
         "Tokens the engine generated (including cancelled requests).",
         s.generatedTokens);
  metric("gpt_tokens_per_second", "gauge",
         "Recent decode throughput of the engine.", s.decodeTokensPerSecond);
  metric("gpt_requests_running", "gauge", "Sequences in the running batch.",
         s.running);
  metric("gpt_queue_depth", "gauge", "Requests waiting for a batch slot.",
         s.queued);
  metric("gpt_kv_cache_blocks_used", "gauge", "KV-cache blocks in use.",
         s.kvBlocksUsed);
  metric("gpt_kv_cache_blocks_total", "gauge", "KV-cache blocks in the pool.",
         s.kvBlocksTotal);
  metric("gpt_kv_cache_usage_ratio", "gauge",
         "Fraction of the KV-cache pool in use.",
         s.kvBlocksTotal > 0 ? static_cast<double>(s.kvBlocksUsed) /
                                   static_cast<double>(s.kvBlocksTotal)
                             : 0.0);
  return o.str();
}

} // namespace gpt::serve
