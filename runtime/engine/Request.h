//===- Request.h ------------------------------------------------*- C++ -*-===//
//
// The request and event types of generation, shared by the engine and
// whatever drives it (the HTTP server's Backend seam, `gpt chat`): the
// server includes this, not the engine, and never links it.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace gpt {

/// Per-request sampling. temperature 0 = greedy. A request with a seed
/// draws from its own generator, so its output never depends on what else
/// is in the batch.
struct SamplingParams {
  float temperature = 1.0f;
  float topP = 1.0f;
  int topK = 0;                  ///< 0: off
  float presencePenalty = 0.0f;  ///< over the tokens generated so far
  float frequencyPenalty = 0.0f; ///< over the tokens generated so far
  uint64_t seed = 0;
  bool hasSeed = false;
  int maxTokens = 16; ///< >= 1
  /// -1: none; N in [0, 20]: the chosen token's logprob + the top N. Of the
  /// model's distribution (raw logits, before penalties and temperature).
  int logprobs = -1;
  std::vector<int32_t> stopTokens; ///< e.g. <|im_end|>, <|endoftext|>
  /// Added to these tokens' logits before every choice (greedy too), after
  /// the penalties: OpenAI's logit_bias (-100 bans a token, +100 forces
  /// it). Ids in [0, vocab), biases finite in [-100, 100].
  std::vector<std::pair<int32_t, float>> logitBias;
};

/// A generated token (finished = false), or the end of a request: every
/// request ends with exactly one event {token -1, finished = true, reason}.
/// A stop token is not reported as a token (reason "stop"); after the
/// maxTokens-th token the reason is "length".
struct TokenEvent {
  int32_t token = -1;   ///< -1 on the final event when no token
  float logprob = 0.0f; ///< of the chosen token (if requested)
  std::vector<std::pair<int32_t, float>> topLogprobs;
  bool finished = false;
  std::string finishReason; ///< "stop" | "length" | "cancelled" | "error"
  std::string error;        ///< set when finishReason == "error"
};

/// The model's score of one prompt token given the tokens before it: its
/// log-probability and the `topN` most likely tokens at that position.
struct PromptTokenScore {
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top;
};

struct EngineStats {
  int64_t requests = 0, promptTokens = 0, generatedTokens = 0;
  int running = 0, queued = 0;
  int64_t kvBlocksUsed = 0, kvBlocksTotal = 0;
  int64_t kvBlockSize = 0; ///< positions per block
  int64_t preemptions = 0; ///< sequences evicted for KV space (recomputed)
  double decodeTokensPerSecond = 0.0;  ///< recent average
  double prefillTokensPerSecond = 0.0; ///< recent average
};

class EngineError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace gpt
