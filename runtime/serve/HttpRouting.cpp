//===- HttpRouting.cpp ----------------------------------------------------===//
#include "runtime/serve/HttpRouting.h"
#include "runtime/serve/HttpServer.h"
#include "runtime/serve/WebAssets.h"

#include <cstdio>

namespace gpt::serve {

std::string escapeForMessage(std::string_view s, size_t maxBytes) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (out.size() >= maxBytes) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

ApiError bodyTooLarge(const HttpOptions &o) {
  return ApiError(413,
                  "the request body is larger than the limit of " +
                      std::to_string(o.maxBodyBytes) + " bytes",
                  "", "request_too_large");
}

Route checkRequestHead(const RequestHead &head,
                       std::optional<std::uint64_t> contentLength,
                       const HttpOptions &o) {
  size_t fields = 0;
  for (auto it = head.begin(); it != head.end(); ++it)
    ++fields;
  if (fields > o.maxHeaders)
    throw ApiError(431,
                   "the request has " + std::to_string(fields) +
                       " header fields, more than the limit of " +
                       std::to_string(o.maxHeaders),
                   "", "request_header_too_large");
  auto encoding = head[boost::beast::http::field::content_encoding];
  if (!encoding.empty() && !boost::beast::iequals(encoding, "identity"))
    throw ApiError(415,
                   "compressed request bodies are not accepted "
                   "(Content-Encoding: " +
                       escapeForMessage(encoding, 40) + ")",
                   "", "unsupported_media_type");
  if (contentLength && *contentLength > o.maxBodyBytes)
    throw bodyTooLarge(o);
  return routeRequest(std::string(head.method_string()),
                      std::string(head.target()), !o.corsOrigin.empty(),
                      o.webUi);
}

namespace {

/// Model ids as they appear in paths: what our --model-name allows.
bool validModelId(const std::string &s) {
  if (s.empty() || s.size() > 128)
    return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
          c == '-' || c == ':'))
      return false;
  return true;
}

} // namespace

Route routeRequest(const std::string &method, const std::string &target,
                   bool cors, bool webUi) {
  std::string path = target.substr(0, target.find('?'));
  Route r;
  r.needsAuth = path.rfind("/v1/", 0) == 0 || path == "/completions" ||
                path == "/chat/completions" || path == "/metrics";
  const char *want = nullptr; // the method the path takes
  if (webUi && findWebAsset(path)) {
    r.kind = RouteKind::WebAsset;
    want = "GET";
  } else if (path == "/health") {
    r.kind = RouteKind::Health;
    want = "GET";
  } else if (path == "/metrics") {
    r.kind = RouteKind::Metrics;
    want = "GET";
  } else if (path == "/v1/models") {
    r.kind = RouteKind::Models;
    want = "GET";
  } else if (path.rfind("/v1/models/", 0) == 0 &&
             validModelId(path.substr(11))) {
    r.kind = RouteKind::Model;
    r.modelId = path.substr(11);
    want = "GET";
  } else if (path == "/v1/completions" || path == "/completions") {
    r.kind = RouteKind::Generate;
    r.endpoint = Endpoint::Completions;
    want = "POST";
  } else if (path == "/v1/chat/completions" || path == "/chat/completions") {
    r.kind = RouteKind::Generate;
    r.endpoint = Endpoint::ChatCompletions;
    want = "POST";
  } else if (path.rfind("/v1/engines/", 0) == 0 && path.size() > 24 &&
             path.compare(path.size() - 12, 12, "/completions") == 0 &&
             validModelId(path.substr(12, path.size() - 24))) {
    r.kind = RouteKind::Generate;
    r.endpoint = Endpoint::Completions;
    r.modelId = path.substr(12, path.size() - 24);
    want = "POST";
  }
  if (!want) {
    r.kind = RouteKind::None;
    r.status = 404;
    r.code = "not_found";
    r.error = "no such endpoint: " + escapeForMessage(method, 16) + " " +
              escapeForMessage(target);
    return r;
  }
  if (method == "OPTIONS" && cors) {
    r.kind = RouteKind::Preflight;
    r.needsAuth = false; // browsers send preflights without credentials
    return r;
  }
  if (method != want) {
    r.kind = RouteKind::None;
    r.status = 405;
    r.code = "method_not_allowed";
    r.error = "method not allowed: " + escapeForMessage(method, 16) + " " +
              escapeForMessage(target) + " (use " + want + ")";
  }
  return r;
}

} // namespace gpt::serve
