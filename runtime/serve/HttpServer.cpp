//===- HttpServer.cpp -----------------------------------------------------===//
#include "runtime/serve/HttpServer.h"
#include "runtime/serve/HttpRouting.h"
#include "runtime/serve/WebAssets.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <iostream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace gpt::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

bool peerClosed(int fd) {
  if (fd < 0)
    return false;
  pollfd p{fd, static_cast<short>(POLLIN | POLLRDHUP), 0};
  if (poll(&p, 1, 0) <= 0)
    return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
    return true;
  if (p.revents & POLLIN) {
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0;
  }
  return false;
}

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(s));
}

/// JSON text that cannot throw: invalid UTF-8 (from the client or the
/// model) becomes U+FFFD instead of an exception.
std::string dumpSafe(const json &j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace

class Session;

struct HttpServer::Impl {
  Service &svc;
  HttpOptions opts;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::atomic<bool> stopping{false};
  std::atomic<size_t> connections{0};
  std::atomic<size_t> workers{0};
  std::mutex sessionsMutex;
  std::set<std::weak_ptr<Session>, std::owner_less<std::weak_ptr<Session>>>
      sessions;
  /// Keeps run() going while worker threads still need the event loop.
  std::mutex workMutex;
  std::condition_variable workersDone;

  Impl(Service &s, HttpOptions o) : svc(s), opts(std::move(o)) {}

  void accept();
  void closeIdleSessions();
};

/// One connection: reads requests one at a time (header, checks, body),
/// answers small routes on the event loop and hands generation to a worker
/// thread, which writes through this session's strand.
class Session : public std::enable_shared_from_this<Session> {
public:
  Session(tcp::socket socket, HttpServer::Impl &server)
      : stream_(std::move(socket)), server_(server),
        buffer_(server.opts.maxHeaderBytes + (64u << 10)) {}

  ~Session() { server_.connections--; }

  void start() {
    asio::dispatch(stream_.get_executor(),
                   [self = shared_from_this()] { self->readHeader(true); });
  }

  /// Closes the connection unless a worker is generating for it (stop()):
  /// idle keep-alive, half-sent headers or bodies.
  void closeIfIdle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->generating_)
        self->closeSocket();
    });
  }

private:
  using Parser = http::request_parser<http::string_body>;

  void readHeader(bool first) {
    if (server_.stopping) {
      closeSocket();
      return;
    }
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(server_.opts.maxHeaderBytes));
    parser_->body_limit(server_.opts.maxBodyBytes);
    // The header deadline runs from the first byte; before it, idle
    // keep-alive. A single deadline for both keeps this simple: the first
    // request of a connection gets the header deadline, later ones the
    // idle one plus the header one.
    stream_.expires_after(seconds(first
                                      ? server_.opts.headerTimeoutSeconds
                                      : server_.opts.idleTimeoutSeconds +
                                            server_.opts.headerTimeoutSeconds));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          self->onHeader(ec);
        });
  }

  void onHeader(beast::error_code ec) {
    try {
      if (ec) {
        if (ec == http::error::header_limit)
          return fail(ApiError(431,
                               "the request header is larger than the limit "
                               "of " +
                                   std::to_string(server_.opts.maxHeaderBytes) +
                                   " bytes",
                               "", "request_header_too_large"));
        if (ec == http::error::body_limit)
          return fail(tooLarge());
        if (ec == http::error::end_of_stream || ec == asio::error::eof ||
            ec == beast::error::timeout ||
            ec == asio::error::operation_aborted ||
            ec == asio::error::connection_reset ||
            ec == http::error::partial_message)
          return closeSocket();
        return fail(ApiError(400, "malformed HTTP request: " + ec.message(), "",
                             "bad_request"));
      }
      const auto &req = parser_->get();
      std::optional<std::uint64_t> length;
      if (auto cl = parser_->content_length())
        length = *cl;
      route_ = checkRequestHead(req, length, server_.opts);
      if (route_.needsAuth)
        server_.svc.authorize(std::string(req[http::field::authorization]));
      if (route_.status != 0)
        return fail(ApiError(route_.status, route_.error, "", route_.code));
      keepAlive_ = req.keep_alive();
      if (beast::iequals(req[http::field::expect], "100-continue")) {
        auto msg =
            std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
        stream_.expires_after(seconds(server_.opts.writeTimeoutSeconds));
        asio::async_write(
            stream_, asio::buffer(*msg),
            [self = shared_from_this(), msg](beast::error_code ec, size_t) {
              if (ec)
                return self->closeSocket();
              self->readBody();
            });
        return;
      }
      readBody();
    } catch (const ApiError &e) {
      fail(e);
    } catch (const std::exception &e) {
      fail(ApiError(500, e.what(), "", "", "server_error"));
    }
  }

  ApiError tooLarge() const { return bodyTooLarge(server_.opts); }

  void readBody() {
    stream_.expires_after(seconds(server_.opts.bodyTimeoutSeconds));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->onBody(ec);
                     });
  }

  void onBody(beast::error_code ec) {
    try {
      if (ec == http::error::body_limit)
        return fail(tooLarge());
      if (ec) // timeout, reset, malformed chunk: nothing sensible to answer
        return closeSocket();
      stream_.expires_never();
      handle();
    } catch (const ApiError &e) {
      fail(e);
    } catch (const std::exception &e) {
      fail(ApiError(500, e.what(), "", "", "server_error"));
    }
  }

  void handle() {
    Service &svc = server_.svc;
    switch (route_.kind) {
    case RouteKind::Health: {
      json h = svc.health();
      respond(svc.draining() ? 503 : 200, dumpSafe(h));
      return;
    }
    case RouteKind::Models:
      respond(200, dumpSafe(svc.models()));
      return;
    case RouteKind::Model: {
      json list = svc.models();
      for (const json &m : list["data"])
        if (m["id"] == route_.modelId) {
          respond(200, dumpSafe(m));
          return;
        }
      throw ApiError(404,
                     "The model '" + escapeForMessage(route_.modelId) +
                         "' does not exist",
                     "model", "model_not_found", "invalid_request_error");
    }
    case RouteKind::Metrics:
      respond(200, svc.metrics(), "text/plain; version=0.0.4");
      return;
    case RouteKind::Preflight:
      respond(204, "", "");
      return;
    case RouteKind::WebAsset: {
      std::string path(parser_->get().target());
      const WebAsset *a = findWebAsset(path.substr(0, path.find('?')));
      respond(200, std::string(a->data, a->size), a->contentType, kPageHeaders);
      return;
    }
    case RouteKind::Generate:
      startGeneration();
      return;
    case RouteKind::None:
      break;
    }
    throw ApiError(404, "no such endpoint", "", "not_found");
  }

  // --- generation on a worker thread -------------------------------------

  void startGeneration() {
    HttpServer::Impl &srv = server_;
    {
      // Under the lock run()'s waiter reads `stopping` and `workers` with:
      // no worker may start once it has decided the loop can end.
      std::lock_guard<std::mutex> lock(srv.workMutex);
      if (srv.stopping)
        throw ApiError(503, "the server is shutting down", "", "",
                       "server_error");
      if (srv.workers >= srv.opts.maxWorkers)
        throw ApiError(429,
                       "too many requests in progress (" +
                           std::to_string(srv.opts.maxWorkers) +
                           "); retry later",
                       "", "rate_limit_exceeded", "requests");
      srv.workers++;
    }
    std::string body = std::move(parser_->get().body());
    if (!route_.modelId.empty())
      body = withModel(body, route_.modelId);
    auto self = shared_from_this();
    generating_ = true;
    try {
      std::thread([self, body = std::move(body)]() mutable {
        self->generate(body);
        HttpServer::Impl &srv = self->server_;
        // The session (its strand, its count in the server) must go while
        // the server and its io_context still exist: before this worker
        // says it is done, after which ~HttpServer may free them.
        self.reset();
        std::lock_guard<std::mutex> lock(srv.workMutex);
        srv.workers--;
        srv.workersDone.notify_all();
        // Nothing may touch srv after the unlock.
      }).detach();
    } catch (...) {
      {
        std::lock_guard<std::mutex> lock(srv.workMutex);
        srv.workers--;
      }
      srv.workersDone.notify_all();
      generating_ = false;
      throw ApiError(503, "cannot start a worker thread", "", "",
                     "server_error");
    }
  }

  /// The legacy /v1/engines/{id}/completions names the model in the path.
  static std::string withModel(const std::string &body,
                               const std::string &model) {
    json j = json::parse(body, nullptr, false);
    if (j.is_object() && !j.contains("model")) {
      j["model"] = model;
      return dumpSafe(j);
    }
    return body;
  }

  /// Runs on the worker thread; every write goes through the strand.
  void generate(const std::string &body) {
    Service &svc = server_.svc;
    auto deadline =
        server_.opts.requestTimeoutSeconds > 0
            ? Clock::now() + seconds(server_.opts.requestTimeoutSeconds)
            : Clock::time_point::max();
    int fd = stream_.socket().native_handle();
    bool timedOut = false;
    auto closed = [&] {
      if (Clock::now() > deadline) {
        timedOut = true;
        return true;
      }
      return peerClosed(fd);
    };
    try {
      std::unique_ptr<Job> job = svc.start(route_.endpoint, body);
      if (!job->streaming()) {
        json out = job->collect(closed);
        if (out.is_null()) {
          if (timedOut)
            throw ApiError(
                504,
                "the request took longer than the limit of " +
                    std::to_string(server_.opts.requestTimeoutSeconds) + " s",
                "", "timeout", "server_error");
          svc.countError(499);
          return finish(false); // the client is gone
        }
        std::string text = dumpSafe(out);
        return finish(writeSync(
            responseHead(200, "application/json", text.size()) + text));
      }
      std::string head = "HTTP/1.1 200 OK\r\n"
                         "Content-Type: text/event-stream\r\n"
                         "Cache-Control: no-cache\r\n"
                         "X-Accel-Buffering: no\r\n"
                         "Transfer-Encoding: chunked\r\n" +
                         corsHeaders() +
                         (keepAlive_ ? "" : "Connection: close\r\n") + "\r\n";
      if (!writeSync(head))
        return finish(false);
      bool ok = job->stream(
          [this](const std::string &s) {
            if (s.empty())
              return true;
            char size[24];
            std::snprintf(size, sizeof size, "%zx\r\n", s.size());
            return writeSync(size + s + "\r\n");
          },
          closed);
      finish(ok && writeSync("0\r\n\r\n"));
    } catch (const ApiError &e) {
      svc.countError(e.status);
      std::string text = dumpSafe(e.body());
      keepAlive_ = keepAlive_ && e.status < 500;
      finish(writeSync(responseHead(e.status, "application/json", text.size()) +
                       text));
    } catch (const std::exception &e) {
      svc.countError(500);
      std::string text =
          dumpSafe(ApiError(500, e.what(), "", "", "server_error").body());
      keepAlive_ = false;
      finish(
          writeSync(responseHead(500, "application/json", text.size()) + text));
    }
  }

  /// Writes on the strand with the write deadline and waits; false when the
  /// client is gone or too slow.
  bool writeSync(std::string data) {
    auto done = std::make_shared<std::promise<bool>>();
    auto result = done->get_future();
    auto msg = std::make_shared<std::string>(std::move(data));
    asio::post(stream_.get_executor(), [self = shared_from_this(), msg, done] {
      self->stream_.expires_after(
          seconds(self->server_.opts.writeTimeoutSeconds));
      asio::async_write(self->stream_, asio::buffer(*msg),
                        [self, msg, done](beast::error_code ec, size_t) {
                          self->stream_.expires_never();
                          done->set_value(!ec);
                        });
    });
    return result.get();
  }

  /// After a worker's response: next request, or close.
  void finish(bool ok) {
    asio::post(stream_.get_executor(), [self = shared_from_this(), ok] {
      self->generating_ = false;
      if (ok && self->keepAlive_ && !self->server_.stopping)
        self->readHeader(false);
      else
        self->closeSocket();
    });
  }

  // --- small responses on the event loop ---------------------------------

  std::string corsHeaders() const {
    const std::string &o = server_.opts.corsOrigin;
    if (o.empty())
      return "";
    return "Access-Control-Allow-Origin: " + o +
           "\r\nAccess-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
           "Access-Control-Allow-Headers: Authorization, Content-Type\r\n"
           "Vary: Origin\r\n";
  }

  std::string responseHead(int status, const std::string &type,
                           size_t length) const {
    std::string reason =
        std::string(http::obsolete_reason(static_cast<http::status>(status)));
    std::string h = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                    "\r\n" + "Content-Length: " + std::to_string(length) +
                    "\r\n";
    if (!type.empty())
      h += "Content-Type: " + type + "\r\n";
    h += corsHeaders();
    if (!keepAlive_)
      h += "Connection: close\r\n";
    return h + "\r\n";
  }

  /// The chat page's headers: a strict Content-Security-Policy (its own
  /// script, style and API only; no inline code, frames or plugins).
  static constexpr const char *kPageHeaders =
      "Content-Security-Policy: default-src 'none'; script-src 'self'; "
      "style-src 'self'; connect-src 'self'; img-src 'self'; base-uri "
      "'none'; form-action 'none'; frame-ancestors 'none'\r\n"
      "X-Content-Type-Options: nosniff\r\n"
      "Referrer-Policy: no-referrer\r\n"
      "Cache-Control: no-cache\r\n";

  /// Answers on the event loop, then reads the next request (keep-alive).
  void respond(int status, std::string body,
               const std::string &type = "application/json",
               const char *extraHeaders = "") {
    std::string head = responseHead(status, type, body.size());
    head.insert(head.size() - 2, extraHeaders); // before the blank line
    auto msg = std::make_shared<std::string>(head + body);
    stream_.expires_after(seconds(server_.opts.writeTimeoutSeconds));
    asio::async_write(
        stream_, asio::buffer(*msg),
        [self = shared_from_this(), msg](beast::error_code ec, size_t) {
          if (ec || !self->keepAlive_)
            return self->closeSocket();
          self->readHeader(false);
        });
  }

  /// An error answer; the connection closes after it unless the request
  /// was read whole (the body of a refused request is never read).
  void fail(const ApiError &e) {
    server_.svc.countError(e.status);
    bool bodyRead = parser_ && parser_->is_done();
    keepAlive_ = keepAlive_ && bodyRead && e.status < 500;
    if (!bodyRead)
      keepAlive_ = false;
    respond(e.status, dumpSafe(e.body()));
  }

  void closeSocket() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  HttpServer::Impl &server_;
  beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  Route route_;
  bool keepAlive_ = false;
  bool generating_ = false; ///< a worker thread owns the response
};

void HttpServer::Impl::accept() {
  acceptor.async_accept(
      asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
        if (ec) {
          if (!acceptor.is_open())
            return; // stopped
          accept(); // EMFILE and friends: keep serving the others
          return;
        }
        if (connections.fetch_add(1) >= opts.maxConnections) {
          connections--;
          // Over the cap: a 503 if the socket takes it at once.
          static const std::string kBusy = [] {
            std::string body = dumpSafe(
                ApiError(503, "too many connections", "", "", "server_error")
                    .body());
            return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                   "application/json\r\nConnection: close\r\n"
                   "Content-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body;
          }();
          beast::error_code ignored;
          socket.non_blocking(true, ignored);
          socket.write_some(asio::buffer(kBusy), ignored);
          socket.close(ignored);
          svc.countError(503);
        } else {
          auto s = std::make_shared<Session>(std::move(socket), *this);
          {
            std::lock_guard<std::mutex> lock(sessionsMutex);
            for (auto it = sessions.begin(); it != sessions.end();)
              it = it->expired() ? sessions.erase(it) : std::next(it);
            sessions.insert(s);
          }
          s->start();
        }
        if (!stopping)
          accept();
      });
}

void HttpServer::Impl::closeIdleSessions() {
  std::lock_guard<std::mutex> lock(sessionsMutex);
  for (const auto &w : sessions)
    if (auto s = w.lock())
      s->closeIfIdle();
}

HttpServer::HttpServer(Service &service, HttpOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {}

HttpServer::~HttpServer() {
  stop();
  std::unique_lock<std::mutex> lock(impl_->workMutex);
  impl_->workersDone.wait(lock, [&] { return impl_->workers == 0; });
}

int HttpServer::bind() {
  auto &o = impl_->opts;
  beast::error_code ec;
  auto address = asio::ip::make_address(o.host, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + o.host +
                             ": not an IP address");
  tcp::endpoint ep(address, static_cast<unsigned short>(o.port));
  auto &a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec)
    a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    a.bind(ep, ec);
  if (!ec)
    a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + o.host + ":" +
                             std::to_string(o.port) + " (" + ec.message() +
                             ")");
  o.port = a.local_endpoint().port();
  return o.port;
}

void HttpServer::run() {
  Impl &s = *impl_;
  if (!s.acceptor.is_open())
    throw std::runtime_error("HttpServer::run before bind");
  s.accept();
  int n = s.opts.threads > 0
              ? s.opts.threads
              : std::max(2, int(std::thread::hardware_concurrency()));
  // Worker threads post their writes to the event loop: keep it running
  // until they are done, even after stop() closed every socket.
  auto guard = asio::make_work_guard(s.ioc);
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(s.workMutex);
    s.workersDone.wait(lock, [&] { return s.stopping && s.workers == 0; });
    guard.reset();
  });
  auto loop = [&s] {
    for (;;) {
      try {
        s.ioc.run();
        return;
      } catch (const std::exception &e) {
        // A handler let an exception out: log it and keep serving.
        std::cerr << "gpt serve: internal error: " << e.what() << std::endl;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < n; ++i)
    threads.emplace_back(loop);
  loop();
  for (auto &t : threads)
    t.join();
  waiter.join();
}

void HttpServer::stop() {
  Impl &s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.workMutex);
    if (s.stopping.exchange(true))
      return;
  }
  s.workersDone.notify_all(); // run()'s waiter
  asio::post(s.ioc, [&s] {
    beast::error_code ec;
    s.acceptor.close(ec);
    s.closeIdleSessions();
  });
}

size_t HttpServer::openConnections() const { return impl_->connections; }

} // namespace gpt::serve
