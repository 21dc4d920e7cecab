//===- Service.h ------------------------------------------------*- C++ -*-===//
//
// The server's core, independent of HTTP: validates a request, renders
// the prompt (chat template for chat), submits n engine requests per
// prompt, turns their token events into text (UTF-8-safe, stop sequences
// cut) and builds OpenAI's response objects and SSE chunks. Also the
// /v1/models, /health and /metrics bodies and the API-key check.
#pragma once

#include "runtime/serve/Backend.h"
#include "runtime/serve/Protocol.h"
#include "runtime/tokenizer/ChatTemplate.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace gpt::serve {

struct ServiceOptions {
  std::string modelName = "gpt";
  std::string apiKey;    ///< empty: no authentication
  size_t maxPending = 0; ///< engine requests in flight at most (0: no
                         ///< limit); beyond it: 429
  int64_t created = 0;   ///< the model's creation time (unix seconds)
};

/// One running request: n engine requests per prompt ("choices").
class Job {
public:
  ~Job(); ///< cancels whatever still runs in the engine

  bool streaming() const;
  /// Polled while waiting: true when the client has gone.
  using ClosedFn = std::function<bool()>;
  /// Writes bytes to the client; false when the client has gone.
  using WriteFn = std::function<bool(const std::string &)>;

  /// Waits for every choice and returns the response object. Returns null
  /// JSON when `closed` reported the client gone (everything cancelled).
  /// Throws ApiError 500 when the engine failed.
  nlohmann::json collect(const ClosedFn &closed);
  /// Streams SSE events ("data: {...}\n\n" ... "data: [DONE]\n\n").
  /// Returns false (everything cancelled) when the client went away.
  bool stream(const WriteFn &write, const ClosedFn &closed);

  struct Impl;

private:
  friend class Service;
  explicit Job(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class Service {
public:
  Service(Backend &backend, const tokenizer::Tokenizer &tokenizer,
          ServiceOptions options);
  ~Service();

  const ServiceOptions &options() const { return options_; }

  /// Throws ApiError 401 unless `authorization` is "Bearer <api key>"
  /// (always passes when no key is configured).
  void authorize(std::string_view authorization) const;

  /// Validates and submits a generation request. Throws ApiError: 400
  /// (invalid, context exceeded), 404 (unknown model), 429 (queue full),
  /// 503 (shutting down).
  std::unique_ptr<Job> start(Endpoint endpoint, std::string_view body);

  nlohmann::json models() const;
  /// {"status":"ok"} (or "shutting_down").
  nlohmann::json health() const;
  /// Prometheus text exposition.
  std::string metrics() const;

  /// Counts an error response (for /metrics).
  void countError(int status);
  /// From now on start() answers 503.
  void setDraining() { draining_ = true; }
  bool draining() const { return draining_; }

private:
  friend class Job;
  bool reserve(size_t n);
  void release(size_t n);
  /// 400 when a prompt's text is longer in bytes than the context can hold
  /// in tokens of the longest byte length (checked before tokenizing).
  void checkTextFits(const GenerationRequest &req) const;
  // The steps of start(), in order.
  /// 503 while draining, 429 when the queue is full.
  void admit() const;
  /// 404 for another model, 400 for a logit_bias outside the vocabulary.
  void checkModelAndBias(const GenerationRequest &req) const;
  /// Fills job.promptTokens; returns each prompt's echo text.
  std::vector<std::string> tokenizePrompts(Job::Impl &job) const;
  /// max_tokens of each prompt's completions, capped by the context.
  std::vector<int64_t> completionBudgets(const Job::Impl &job) const;
  std::vector<std::vector<PromptTokenScore>> scorePrompts(const Job::Impl &job);
  SamplingParams samplingParams(const GenerationRequest &req, int j,
                                int64_t maxTokens) const;
  /// n choices per prompt; returns how many need the backend.
  size_t makeChoices(
      Job::Impl &job, const std::vector<std::string> &echoes,
      const std::vector<int64_t> &maxTokens,
      const std::vector<std::vector<PromptTokenScore>> &promptScores) const;
  void submitChoices(std::unique_ptr<Job::Impl> &impl, size_t reserved);

  Backend &backend_;
  const tokenizer::Tokenizer &tokenizer_;
  std::unique_ptr<tokenizer::ChatTemplate> chatTemplate_;
  ServiceOptions options_;
  std::vector<int32_t> stopTokens_;
  size_t longestTokenBytes_ = 1;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> pending_{0};
  std::atomic<uint64_t> nextId_{1};
  // Metrics.
  std::atomic<int64_t> completionRequests_{0}, chatRequests_{0},
      promptTokens_{0}, generatedTokens_{0}, disconnects_{0};
  mutable std::mutex errorsMutex_;
  std::map<int, int64_t> errors_;
};

} // namespace gpt::serve
