//===- HttpRouting.h --------------------------------------------*- C++ -*-===//
//
// Which handler a request line goes to, as a pure function of the method
// and the raw target (no decoding): shared by the server and the fuzz
// target, so every route and every refusal is testable without sockets.
#pragma once

#include "runtime/serve/Protocol.h"

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gpt::serve {

enum class RouteKind {
  None,
  Health,
  Models,
  Model,
  Metrics,
  Generate,
  Preflight,
  WebAsset ///< the chat page (GET /, /chat.js, /chat.css)
};

struct Route {
  RouteKind kind = RouteKind::None;
  Endpoint endpoint = Endpoint::Completions; ///< for Generate
  /// The model named in the path (/v1/models/{id}, /v1/engines/{id}/...).
  std::string modelId;
  /// The API key is checked (before the body is read).
  bool needsAuth = false;
  /// Non-zero: answer this status with `error` (404, 405) instead.
  int status = 0;
  std::string error, code;
};

/// Routes `method` `target` (query string ignored). OPTIONS is a CORS
/// preflight when `cors` is on, else 405. The chat page's paths are routes
/// only with `webUi`. Messages escape every byte outside printable ASCII.
Route routeRequest(const std::string &method, const std::string &target,
                   bool cors = false, bool webUi = false);

struct HttpOptions;
using RequestHead = boost::beast::http::request_header<>;

/// The bounds a request head must meet before its body is read (header
/// field count 431, compressed body 415, declared length 413), then its
/// route. Throws ApiError for the bounds; route refusals come back in
/// Route::status. The server and the fuzz target both call this.
Route checkRequestHead(const RequestHead &head,
                       std::optional<std::uint64_t> contentLength,
                       const HttpOptions &options);

/// 413 naming the body limit.
ApiError bodyTooLarge(const HttpOptions &options);

/// `s` with every byte outside printable ASCII (and the backslash) written
/// as \xHH, cut at maxBytes: request targets and methods echoed in error
/// messages are attacker bytes.
std::string escapeForMessage(std::string_view s, size_t maxBytes = 200);

} // namespace gpt::serve
