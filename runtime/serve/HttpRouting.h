// Which handler a request line goes to, as a pure function of the method
// and the raw target (no decoding): shared by the server and the fuzz
// target, so every route and every refusal is testable without sockets.
#pragma once

#include "serve/Protocol.h"

#include <string>

namespace gpt::serve {

enum class RouteKind { None, Health, Models, Model, Metrics, Generate, Preflight };

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
/// preflight when `cors` is on, else 405. Messages escape every byte
/// outside printable ASCII.
Route routeRequest(const std::string &method, const std::string &target,
                   bool cors = false);

} // namespace gpt::serve
