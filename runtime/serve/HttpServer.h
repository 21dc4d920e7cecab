//===- HttpServer.h ---------------------------------------------*- C++ -*-===//
//
// The HTTP front of the Service (Boost.Beast over Asio): routes, the API
// key, hard bounds on every input, SSE streaming, client-disconnect
// detection and graceful stop.
//
//   POST /v1/completions, /v1/chat/completions   (also without /v1)
//   POST /v1/engines/{id}/completions            (openai-python 0.x)
//   GET  /v1/models, /v1/models/{id}, /health, /metrics
//   GET  /, /chat.js, /chat.css                   (the chat page, web/)
//   GET  /, /chat.js, /chat.css                   (the chat page, web/)
//
// Connections are handled by a few event-loop threads (no thread per
// connection), so idle or slow clients cost a socket and a timer each.
// Every bound is enforced before the server buffers a body or spends work:
// header bytes and count while the header is read, the body limit for
// every framing (Content-Length, chunked; requests without either have no
// body), compressed bodies refused, the API key checked before the body is
// read, a connection cap, deadlines for the header, the body, idle
// keep-alive and each write. Generation requests run on worker threads
// (at most maxWorkers at once); the event loop never blocks on the engine.
// See docs/serving.md for the limits and why Beast.
#pragma once

#include "runtime/serve/Service.h"

#include <cstddef>
#include <memory>
#include <string>

namespace gpt::serve {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                   ///< 0: any free port
  size_t maxBodyBytes = 8u << 20;    ///< larger bodies: 413
  size_t maxHeaderBytes = 16u << 10; ///< request line + headers; more: 431
  size_t maxHeaders = 100;           ///< header fields; more: 431
  size_t maxConnections = 1024;      ///< open connections; more: 503+close
  size_t maxWorkers = 256;           ///< generation requests at once; 429
  int threads = 0;                   ///< event-loop threads (0: cores, >=2)
  double headerTimeoutSeconds = 10;  ///< first byte to end of headers
  double bodyTimeoutSeconds = 30;    ///< to receive the body
  double idleTimeoutSeconds = 60;    ///< keep-alive wait for a request
  double writeTimeoutSeconds = 30;   ///< each write to the client
  double requestTimeoutSeconds = 0;  ///< whole generation (0: none); 504
  std::string corsOrigin;            ///< "" : no CORS headers
  bool webUi = true;                 ///< serve the chat page at GET /
};

class HttpServer {
public:
  HttpServer(Service &service, HttpOptions options);
  ~HttpServer();

  /// Binds the listening socket; returns the port (throws
  /// std::runtime_error naming the address on failure).
  int bind();
  /// Serves until stop(); returns once in-flight requests have finished.
  void run();
  /// Stops accepting connections and closes idle ones (safe from any
  /// thread). In-flight requests complete; run() then returns.
  void stop();

  /// Connections open now (for tests and /metrics).
  size_t openConnections() const;

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

/// True when the peer has closed (or reset) the connection on `fd`.
bool peerClosed(int fd);

} // namespace gpt::serve
