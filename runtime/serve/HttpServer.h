// The HTTP front of the Service (cpp-httplib): routes, the API key, body
// limits, SSE streaming, client-disconnect detection and graceful stop.
//
//   POST /v1/completions, /v1/chat/completions   (also without /v1)
//   GET  /v1/models, /health, /metrics
#pragma once

#include "serve/Service.h"

#include <cstddef>
#include <memory>
#include <string>

namespace gpt::serve {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                ///< 0: any free port
  size_t maxBodyBytes = 8u << 20; ///< larger bodies: 413
  int threads = 32;               ///< connection handler threads
};

class HttpServer {
public:
  HttpServer(Service &service, HttpOptions options);
  ~HttpServer();

  /// Binds the listening socket; returns the port (throws on failure).
  int bind();
  /// Serves until stop(); returns once in-flight requests have finished.
  void run();
  /// Stops accepting connections (safe from any thread). In-flight
  /// requests complete; run() then returns.
  void stop();

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

/// The socket of the connection a request came on, found by its peer and
/// local addresses (-1 if not found). Used to notice clients that hang up.
int findConnectionSocket(const std::string &remoteAddr, int remotePort,
                         int localPort);
/// True when the peer has closed (or reset) the connection on `fd`.
bool peerClosed(int fd);

} // namespace gpt::serve
