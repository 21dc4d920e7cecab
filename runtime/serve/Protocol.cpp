//===- Protocol.cpp -------------------------------------------------------===//
#include "runtime/serve/Protocol.h"

#include <cmath>

namespace gpt::serve {

using nlohmann::json;

namespace {

std::string defaultType(int status) {
  switch (status) {
  case 401:
  case 400:
  case 404:
  case 413:
    return "invalid_request_error";
  case 429:
    return "rate_limit_error";
  case 503:
    return "unavailable_error";
  default:
    return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

[[noreturn]] void bad(const std::string &param, const std::string &message,
                      const std::string &code = "") {
  throw ApiError(400, message, param, code);
}

// A present, non-null member (OpenAI treats null as "not given").
const json *member(const json &obj, const char *name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null())
    return nullptr;
  return &*it;
}

std::optional<double> number(const json &obj, const char *name, double lo,
                             double hi) {
  const json *v = member(obj, name);
  if (!v)
    return std::nullopt;
  if (!v->is_number())
    bad(name, std::string("'") + name + "' must be a number");
  double d = v->get<double>();
  if (!std::isfinite(d) || d < lo || d > hi)
    bad(name, std::string("'") + name + "' must be between " + json(lo).dump() +
                  " and " + json(hi).dump() + ", got " + v->dump());
  return d;
}

std::optional<int64_t> integer(const json &obj, const char *name, int64_t lo,
                               int64_t hi) {
  const json *v = member(obj, name);
  if (!v)
    return std::nullopt;
  // 3.0 is accepted as 3 (JavaScript has one number type); 3.5 is not.
  int64_t i = 0;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() &&
        v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      bad(name, std::string("'") + name + "' is too large");
    i = v->get<int64_t>();
  } else if (v->is_number_float() && std::isfinite(v->get<double>()) &&
             std::floor(v->get<double>()) == v->get<double>() &&
             std::fabs(v->get<double>()) < 9.0e15) {
    i = static_cast<int64_t>(v->get<double>());
  } else {
    bad(name, std::string("'") + name + "' must be an integer");
  }
  if (i < lo || i > hi)
    bad(name, std::string("'") + name + "' must be between " +
                  std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                  std::to_string(i));
  return i;
}

std::optional<bool> boolean(const json &obj, const char *name) {
  const json *v = member(obj, name);
  if (!v)
    return std::nullopt;
  if (!v->is_boolean())
    bad(name, std::string("'") + name + "' must be a boolean");
  return v->get<bool>();
}

std::optional<std::string> string(const json &obj, const char *name) {
  const json *v = member(obj, name);
  if (!v)
    return std::nullopt;
  if (!v->is_string())
    bad(name, std::string("'") + name + "' must be a string");
  return v->get<std::string>();
}

bool isTokenArray(const json &v) {
  if (!v.is_array() || v.empty())
    return false;
  for (const json &e : v)
    if (!e.is_number_integer())
      return false;
  return true;
}

PromptInput tokenPrompt(const json &v) {
  PromptInput p;
  p.isTokens = true;
  for (const json &e : v)
    p.tokens.push_back(e.get<int64_t>());
  return p;
}

std::vector<PromptInput> parsePrompt(const json &obj) {
  const json *v = member(obj, "prompt");
  if (!v)
    bad("prompt", "you must provide a 'prompt' parameter");
  std::vector<PromptInput> out;
  if (v->is_string()) {
    out.push_back({v->get<std::string>(), {}, false});
  } else if (isTokenArray(*v)) {
    out.push_back(tokenPrompt(*v));
  } else if (v->is_array() && !v->empty()) {
    for (const json &e : *v) {
      if (e.is_string())
        out.push_back({e.get<std::string>(), {}, false});
      else if (isTokenArray(e))
        out.push_back(tokenPrompt(e));
      else
        bad("prompt", "'prompt' must be a string, an array of strings, an "
                      "array of token ids or an array of such arrays");
    }
  } else {
    bad("prompt", "'prompt' must be a string, an array of strings, an array "
                  "of token ids or an array of such arrays");
  }
  if (out.size() > static_cast<size_t>(kMaxN))
    bad("prompt", "at most " + std::to_string(kMaxN) + " prompts per request");
  return out;
}

std::string messageContent(const json &content, size_t i) {
  std::string param = "messages[" + std::to_string(i) + "].content";
  if (content.is_null())
    return "";
  if (content.is_string())
    return content.get<std::string>();
  if (content.is_array()) {
    std::string text;
    for (const json &part : content) {
      if (!part.is_object() || part.value("type", "") != "text" ||
          !part.contains("text") || !part["text"].is_string())
        bad(param, "only content parts of type 'text' are supported");
      text += part["text"].get<std::string>();
    }
    return text;
  }
  bad(param, "'" + param + "' must be a string or an array of text parts");
}

std::vector<tokenizer::ChatMessage> parseMessages(const json &obj) {
  const json *v = member(obj, "messages");
  if (!v)
    bad("messages", "you must provide a 'messages' parameter");
  if (!v->is_array())
    bad("messages", "'messages' must be an array");
  if (v->empty())
    bad("messages", "'messages' must contain at least one message");
  std::vector<tokenizer::ChatMessage> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const json &m = (*v)[i];
    std::string param = "messages[" + std::to_string(i) + "]";
    if (!m.is_object())
      bad(param, "'" + param + "' must be an object");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string())
      bad(param + ".role", "'" + param + ".role' must be a string");
    std::string name = role->get<std::string>();
    if (name == "developer")
      name = "system";
    auto parsed = tokenizer::parseRole(name);
    if (!parsed)
      bad(param + ".role", "unsupported role '" + role->get<std::string>() +
                               "' (supported: system, user, assistant)");
    auto content = m.find("content");
    if ((content == m.end() || content->is_null()) &&
        *parsed != tokenizer::Role::Assistant)
      bad(param + ".content", "'" + param + ".content' is required");
    tokenizer::ChatMessage msg{
        *parsed,
        content == m.end() ? std::string() : messageContent(*content, i), true};
    out.push_back(std::move(msg));
  }
  return out;
}

std::vector<std::string> parseStop(const json &obj) {
  const json *v = member(obj, "stop");
  if (!v)
    return {};
  std::vector<std::string> out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (const json &e : *v) {
      if (!e.is_string())
        bad("stop", "'stop' must be a string or an array of strings");
      out.push_back(e.get<std::string>());
    }
  } else {
    bad("stop", "'stop' must be a string or an array of strings");
  }
  if (out.size() > static_cast<size_t>(kMaxStops))
    bad("stop", "at most " + std::to_string(kMaxStops) + " stop sequences");
  std::vector<std::string> nonEmpty;
  for (auto &s : out)
    if (!s.empty())
      nonEmpty.push_back(std::move(s));
  return nonEmpty;
}

} // namespace

ApiError::ApiError(int status, const std::string &message, std::string param,
                   std::string code, std::string type)
    : std::runtime_error(message), status(status), param(std::move(param)),
      code(std::move(code)),
      type(type.empty() ? defaultType(status) : std::move(type)) {}

json ApiError::body() const {
  json e = {{"message", what()},
            {"type", type},
            {"param", param.empty() ? json(nullptr) : json(param)},
            {"code", code.empty() ? json(nullptr) : json(code)}};
  return {{"error", e}};
}

/// OpenAI parameters this server does not implement: answered 400 naming
/// the parameter instead of being dropped (the client would believe they
/// applied). Values that ask for nothing (a "text" response_format, no
/// tools, best_of equal to n) are accepted.
void refuseUnsupported(const json &obj) {
  auto refuse = [](const char *name) {
    bad(name, std::string("'") + name + "' is not supported by this server");
  };
  auto given = [&](const char *name) {
    auto it = obj.find(name);
    return it != obj.end() && !it->is_null() ? &*it : nullptr;
  };
  if (const json *v = given("response_format");
      v && !(v->is_object() && v->value("type", json()) == "text"))
    refuse("response_format");
  for (const char *name : {"tools", "functions"})
    if (const json *v = given(name); v && !(v->is_array() && v->empty()))
      refuse(name);
  for (const char *name : {"tool_choice", "function_call"})
    if (const json *v = given(name); v && *v != "none")
      refuse(name);
  if (const json *v = given("suffix");
      v && !(v->is_string() && v->get_ref<const std::string &>().empty()))
    refuse("suffix");
  if (const json *v = given("best_of")) {
    json n = obj.value("n", json(1));
    if (*v != n)
      refuse("best_of");
  }
}

/// {"<token id>": bias, ...}: ids as decimal strings, biases in [-100, 100].
std::vector<std::pair<int64_t, double>> parseLogitBias(const json &obj) {
  std::vector<std::pair<int64_t, double>> out;
  auto it = obj.find("logit_bias");
  if (it == obj.end() || it->is_null())
    return out;
  if (!it->is_object())
    bad("logit_bias", "'logit_bias' must be an object mapping token ids to "
                      "biases");
  if (it->size() > kMaxLogitBias)
    bad("logit_bias", "'logit_bias' has " + std::to_string(it->size()) +
                          " entries, more than " +
                          std::to_string(kMaxLogitBias));
  for (auto e = it->begin(); e != it->end(); ++e) {
    const std::string &key = e.key();
    bool digits = !key.empty() && key.size() <= 9 &&
                  key.find_first_not_of("0123456789") == std::string::npos;
    if (!digits)
      bad("logit_bias",
          "'logit_bias' keys must be token ids, got \"" +
              json(key).dump(-1, ' ', false, json::error_handler_t::replace) +
              "\"");
    if (!e->is_number() || !(e->get<double>() >= -100.0) ||
        !(e->get<double>() <= 100.0))
      bad("logit_bias", "'logit_bias' values must be numbers between -100 "
                        "and 100 (token " +
                            key + ")");
    out.push_back({std::stoll(key), e->get<double>()});
  }
  return out;
}

GenerationRequest parseGenerationRequest(Endpoint endpoint,
                                         std::string_view body) {
  json obj = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded())
    throw ApiError(400, "the request body is not valid JSON", "", "");
  if (!obj.is_object())
    throw ApiError(400, "the request body must be a JSON object");

  GenerationRequest r;
  r.endpoint = endpoint;
  bool chat = endpoint == Endpoint::ChatCompletions;
  refuseUnsupported(obj);
  r.logitBias = parseLogitBias(obj);
  auto model = string(obj, "model");
  if (!model)
    bad("model", "you must provide a 'model' parameter");
  r.model = *model;
  if (chat)
    r.messages = parseMessages(obj);
  else
    r.prompts = parsePrompt(obj);

  const int64_t kTokenLimit = int64_t(1) << 31;
  if (chat) {
    // max_completion_tokens is the newer name; either one works.
    r.maxTokens = integer(obj, "max_completion_tokens", 1, kTokenLimit);
    if (auto m = integer(obj, "max_tokens", 1, kTokenLimit))
      r.maxTokens = m;
  } else {
    r.maxTokens = integer(obj, "max_tokens", 0, kTokenLimit);
  }
  if (auto n = integer(obj, "n", 1, kMaxN))
    r.n = static_cast<int>(*n);
  r.stop = parseStop(obj);
  if (auto t = number(obj, "temperature", 0.0, 2.0))
    r.temperature = *t;
  if (auto p = number(obj, "top_p", 0.0, 1.0))
    r.topP = *p;
  if (auto k = integer(obj, "top_k", 0, 1 << 20))
    r.topK = static_cast<int>(*k);
  r.seed = integer(obj, "seed", INT64_MIN, INT64_MAX);
  r.stream = boolean(obj, "stream").value_or(false);
  if (const json *so = member(obj, "stream_options")) {
    if (!so->is_object())
      bad("stream_options", "'stream_options' must be an object");
    auto iu = so->find("include_usage");
    if (iu != so->end() && !iu->is_null()) {
      if (!iu->is_boolean())
        bad("stream_options.include_usage",
            "'stream_options.include_usage' must be a boolean");
      r.includeUsage = iu->get<bool>();
    }
  }
  if (chat) {
    bool lp = boolean(obj, "logprobs").value_or(false);
    auto top = integer(obj, "top_logprobs", 0, kMaxChatTopLogprobs);
    if (top && !lp)
      bad("top_logprobs", "'top_logprobs' needs 'logprobs' set to true");
    if (lp)
      r.logprobs = static_cast<int>(top.value_or(0));
  } else {
    if (auto lp = integer(obj, "logprobs", 0, kMaxCompletionLogprobs))
      r.logprobs = static_cast<int>(*lp);
    r.echo = boolean(obj, "echo").value_or(false);
  }
  if (auto p = number(obj, "presence_penalty", -2.0, 2.0))
    r.presencePenalty = *p;
  if (auto f = number(obj, "frequency_penalty", -2.0, 2.0))
    r.frequencyPenalty = *f;
  if (auto u = string(obj, "user"))
    r.user = *u;
  return r;
}

} // namespace gpt::serve
