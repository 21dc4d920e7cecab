//===- FakeBackend.h --------------------------------------------*- C++ -*-===//
//
// A fake generation engine for the server tests: produces scripted tokens
// on its own thread (like the real engine), honours cancel, and records
// what it was asked.
#pragma once

#include "runtime/serve/Backend.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace gpt::serve::test {

class FakeBackend : public Backend {
public:
  /// The tokens a request generates (before max_tokens/stop tokens cut
  /// it); default: the prompt's tokens repeated.
  std::function<std::vector<int32_t>(const std::vector<int32_t> &prompt,
                                     const SamplingParams &)>
      script;
  int64_t context = 64;
  std::chrono::milliseconds tokenDelay{0};
  std::string submitError; ///< non-empty: submit throws EngineError(this)
  std::string failWith;    ///< non-empty: requests end with this error

  struct Submitted {
    std::vector<int32_t> prompt;
    SamplingParams params;
  };

  FakeBackend() : thread_([this] { loop(); }) {}
  ~FakeBackend() override {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  int64_t contextLength() const override { return context; }

  uint64_t submit(std::vector<int32_t> prompt, const SamplingParams &params,
                  std::function<void(const TokenEvent &)> onToken) override {
    if (!submitError.empty())
      throw EngineError(submitError);
    if (prompt.empty())
      throw EngineError("empty prompt");
    std::vector<int32_t> tokens;
    if (script) {
      tokens = script(prompt, params);
    } else {
      for (int i = 0; i < params.maxTokens; ++i)
        tokens.push_back(prompt[static_cast<size_t>(i) % prompt.size()]);
    }
    std::lock_guard<std::mutex> lock(m_);
    uint64_t id = nextId_++;
    submitted_.push_back({prompt, params});
    live_[id] = Live{std::move(tokens), params, std::move(onToken), 0};
    order_.push_back(id);
    cv_.notify_all();
    return id;
  }

  void cancel(uint64_t id) override {
    std::lock_guard<std::mutex> lock(m_);
    cancelled_.insert(id);
    cv_.notify_all();
  }

  EngineStats stats() const override {
    std::lock_guard<std::mutex> lock(m_);
    EngineStats s;
    s.requests = static_cast<int64_t>(submitted_.size());
    s.running = static_cast<int>(live_.size());
    s.kvBlocksTotal = 100;
    s.kvBlocksUsed = static_cast<int64_t>(live_.size());
    return s;
  }

  /// Fake scores: token t after the first gets logprob -0.5 * t, and the
  /// top entries are ids 0, 1, ... with logprobs -1, -2, ...
  std::vector<PromptTokenScore> scorePrompt(const std::vector<int32_t> &prompt,
                                            int topN) override {
    if (!submitError.empty())
      throw EngineError(submitError);
    std::vector<PromptTokenScore> out;
    for (size_t i = 1; i < prompt.size(); ++i) {
      PromptTokenScore s;
      s.logprob = -0.5f * float(prompt[i]);
      for (int k = 0; k < topN; ++k)
        s.top.push_back({k, -1.0f - float(k)});
      out.push_back(s);
    }
    scored_.push_back(prompt);
    return out;
  }
  std::vector<std::vector<int32_t>> scored() const { return scored_; }

  std::vector<Submitted> submitted() const {
    std::lock_guard<std::mutex> lock(m_);
    return submitted_;
  }
  size_t cancelledCount() const {
    std::lock_guard<std::mutex> lock(m_);
    return cancelled_.size();
  }
  size_t liveCount() const {
    std::lock_guard<std::mutex> lock(m_);
    return live_.size();
  }

private:
  std::vector<std::vector<int32_t>> scored_;
  struct Live {
    std::vector<int32_t> tokens;
    SamplingParams params;
    std::function<void(const TokenEvent &)> onToken;
    size_t next;
  };

  // One step: one token for every live request (like a decode step).
  void loop() {
    std::unique_lock<std::mutex> lock(m_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !live_.empty(); });
      if (stop_)
        return;
      std::vector<
          std::pair<std::function<void(const TokenEvent &)>, TokenEvent>>
          out;
      for (auto it = live_.begin(); it != live_.end();) {
        Live &l = it->second;
        TokenEvent ev;
        if (cancelled_.count(it->first)) {
          ev.finished = true;
          ev.finishReason = "cancelled";
        } else if (!failWith.empty()) {
          ev.finished = true;
          ev.finishReason = "error";
          ev.error = failWith;
        } else if (l.next >= l.tokens.size()) {
          ev.finished = true;
          ev.finishReason = "stop";
        } else {
          ev.token = l.tokens[l.next++];
          if (l.params.logprobs >= 0) {
            ev.logprob = -0.25f;
            for (int k = 0; k < l.params.logprobs; ++k)
              ev.topLogprobs.push_back({'a' + k, -1.0f - k});
          }
          bool isStop = false;
          for (int32_t s : l.params.stopTokens)
            isStop |= s == ev.token;
          if (isStop) {
            ev.finished = true;
            ev.finishReason = "stop";
          } else if (static_cast<int>(l.next) >= l.params.maxTokens) {
            ev.finished = true;
            ev.finishReason = "length";
          }
        }
        out.emplace_back(l.onToken, ev);
        if (ev.finished)
          it = live_.erase(it);
        else
          ++it;
      }
      lock.unlock();
      for (auto &[fn, ev] : out)
        fn(ev);
      if (tokenDelay.count() > 0)
        std::this_thread::sleep_for(tokenDelay);
      lock.lock();
    }
  }

  mutable std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t nextId_ = 1;
  std::map<uint64_t, Live> live_;
  std::deque<uint64_t> order_;
  std::set<uint64_t> cancelled_;
  std::vector<Submitted> submitted_;
  std::thread thread_;
};

/// A byte-level tokenizer: ids 0..255 are the bytes, 256 = "é" (two
/// bytes), 257..260 = "he", "hel", "hell", "hello", then 261
/// <|endoftext|>, 262 <|im_start|>, 263 <|im_end|>.
gpt::tokenizer::Tokenizer makeTestTokenizer();

} // namespace gpt::serve::test
