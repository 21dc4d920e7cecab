//===- Protocol.h -----------------------------------------------*- C++ -*-===//
//
// The OpenAI protocol, kept in one place: request parsing and validation
// for /v1/completions and /v1/chat/completions, and the error shape
// {"error":{"message","type","param","code"}}.
#pragma once

#include "runtime/tokenizer/ChatTemplate.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gpt::serve {

/// An error answered to the client with `status` and OpenAI's error body.
class ApiError : public std::runtime_error {
public:
  ApiError(int status, const std::string &message, std::string param = "",
           std::string code = "", std::string type = "");
  int status;
  std::string param, code, type;
  /// {"error":{"message","type","param","code"}} (param/code null if empty).
  nlohmann::json body() const;
};

enum class Endpoint { Completions, ChatCompletions };

/// One completion prompt: text, or token ids given by the client.
struct PromptInput {
  std::string text;
  std::vector<int64_t> tokens;
  bool isTokens = false;
};

/// A validated generation request (both endpoints).
struct GenerationRequest {
  Endpoint endpoint = Endpoint::Completions;
  std::string model;
  std::vector<PromptInput> prompts;             // completions
  std::vector<tokenizer::ChatMessage> messages; // chat
  std::optional<int64_t> maxTokens;             // absent: endpoint default
  int n = 1;
  std::vector<std::string> stop;
  double temperature = 1.0, topP = 1.0;
  int topK = 0;
  std::optional<int64_t> seed;
  bool stream = false, includeUsage = false;
  int logprobs = -1; ///< -1: none; N: chosen token + top N
  bool echo = false; ///< completions only
  double presencePenalty = 0.0, frequencyPenalty = 0.0;
  std::string user;
  /// logit_bias: token id -> bias in [-100, 100] (ids checked against the
  /// vocabulary by the Service).
  std::vector<std::pair<int64_t, double>> logitBias;
};

/// Limits of the protocol (OpenAI's where it has them).
inline constexpr int kMaxN = 16;
inline constexpr int kMaxStops = 16;
inline constexpr int kMaxCompletionLogprobs = 5;
inline constexpr int kMaxChatTopLogprobs = 20;
inline constexpr size_t kMaxLogitBias = 1024; ///< entries of logit_bias

/// Parses and validates a request body. Throws ApiError (400) naming the
/// parameter on malformed JSON, wrong types, out-of-range values and
/// OpenAI parameters this server does not implement (response_format, tools,
/// functions, tool_choice, function_call, suffix, best_of other than n); other
/// unknown fields are ignored.
GenerationRequest parseGenerationRequest(Endpoint endpoint,
                                         std::string_view body);

} // namespace gpt::serve
