#include "serve/HttpServer.h"

#include <httplib.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <stdexcept>

namespace gpt::serve {

using nlohmann::json;

namespace {

bool sockaddrMatches(const sockaddr_storage &sa, const std::string &addr,
                     int port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa.ss_family == AF_INET) {
    auto *in = reinterpret_cast<const sockaddr_in *>(&sa);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    return ntohs(in->sin_port) == port && (addr.empty() || addr == buf);
  }
  if (sa.ss_family == AF_INET6) {
    auto *in = reinterpret_cast<const sockaddr_in6 *>(&sa);
    inet_ntop(AF_INET6, &in->sin6_addr, buf, sizeof buf);
    return ntohs(in->sin6_port) == port && (addr.empty() || addr == buf);
  }
  return false;
}

} // namespace

int findConnectionSocket(const std::string &remoteAddr, int remotePort,
                         int localPort) {
  DIR *dir = opendir("/proc/self/fd");
  if (!dir)
    return -1;
  int found = -1;
  while (dirent *e = readdir(dir)) {
    char *end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dirfd(dir))
      continue;
    sockaddr_storage peer{}, local{};
    socklen_t len = sizeof peer;
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr *>(&peer),
                    &len) != 0)
      continue;
    len = sizeof local;
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr *>(&local),
                    &len) != 0)
      continue;
    if (sockaddrMatches(peer, remoteAddr, remotePort) &&
        sockaddrMatches(local, "", localPort)) {
      found = static_cast<int>(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

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

struct HttpServer::Impl {
  Service &svc;
  HttpOptions opts;
  httplib::Server server;

  Impl(Service &s, HttpOptions o) : svc(s), opts(std::move(o)) {}

  void sendError(httplib::Response &res, const ApiError &e) {
    svc.countError(e.status);
    res.status = e.status;
    res.set_content(e.body().dump(), "application/json");
  }

  void sendJson(httplib::Response &res, const json &j) {
    res.status = 200;
    res.set_content(j.dump(), "application/json");
  }

  void generate(Endpoint endpoint, const httplib::Request &req,
                httplib::Response &res) {
    std::shared_ptr<Job> job;
    try {
      job = svc.start(endpoint, req.body);
    } catch (const ApiError &e) {
      sendError(res, e);
      return;
    }
    int fd =
        findConnectionSocket(req.remote_addr, req.remote_port, req.local_port);
    auto closed = [fd] { return peerClosed(fd); };
    if (!job->streaming()) {
      json out;
      try {
        out = job->collect(closed);
      } catch (const ApiError &e) {
        sendError(res, e);
        return;
      }
      if (out.is_null()) { // client gone; nobody reads this
        res.status = 499;
        return;
      }
      sendJson(res, out);
      return;
    }
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [job, closed](size_t, httplib::DataSink &sink) {
          job->stream(
              [&sink](const std::string &s) {
                return sink.is_writable() && sink.write(s.data(), s.size());
              },
              closed);
          sink.done();
          return true;
        },
        [job](bool) { /* releases the job: cancels what is still running */ });
  }

  void routes() {
    server.set_pre_routing_handler(
        [this](const httplib::Request &req, httplib::Response &res) {
          if (req.path.rfind("/v1/", 0) == 0 || req.path == "/completions" ||
              req.path == "/chat/completions" || req.path == "/metrics") {
            try {
              svc.authorize(req.get_header_value("Authorization"));
            } catch (const ApiError &e) {
              sendError(res, e);
              return httplib::Server::HandlerResponse::Handled;
            }
          }
          return httplib::Server::HandlerResponse::Unhandled;
        });
    auto completions = [this](const httplib::Request &req,
                              httplib::Response &res) {
      generate(Endpoint::Completions, req, res);
    };
    auto chat = [this](const httplib::Request &req, httplib::Response &res) {
      generate(Endpoint::ChatCompletions, req, res);
    };
    server.Post("/v1/completions", completions);
    server.Post("/completions", completions);
    server.Post("/v1/chat/completions", chat);
    server.Post("/chat/completions", chat);
    server.Get("/v1/models",
               [this](const httplib::Request &, httplib::Response &res) {
                 sendJson(res, svc.models());
               });
    server.Get("/health",
               [this](const httplib::Request &, httplib::Response &res) {
                 sendJson(res, svc.health());
                 if (svc.draining())
                   res.status = 503;
               });
    server.Get("/metrics",
               [this](const httplib::Request &, httplib::Response &res) {
                 res.set_content(svc.metrics(), "text/plain; version=0.0.4");
               });
    // Errors httplib answers itself (no route, body too large, ...) get
    // OpenAI's error shape too.
    server.set_error_handler(
        [this](const httplib::Request &req, httplib::Response &res) {
          if (!res.body.empty())
            return;
          std::string message;
          std::string code;
          switch (res.status) {
          case 404:
            message = "no such endpoint: " + req.method + " " + req.path;
            code = "not_found";
            break;
          case 405:
            message = "method not allowed: " + req.method + " " + req.path;
            break;
          case 413:
            message = "the request body is larger than the limit of " +
                      std::to_string(opts.maxBodyBytes) + " bytes";
            code = "request_too_large";
            break;
          default:
            message = "HTTP error " + std::to_string(res.status);
          }
          ApiError e(res.status, message, "", code);
          svc.countError(res.status);
          res.set_content(e.body().dump(), "application/json");
        });
    server.set_exception_handler([this](const httplib::Request &,
                                        httplib::Response &res,
                                        std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception &e) {
        what = e.what();
      } catch (...) {
      }
      sendError(res, ApiError(500, what, "", "", "server_error"));
    });
  }
};

HttpServer::HttpServer(Service &service, HttpOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {
  auto &s = impl_->server;
  s.set_payload_max_length(impl_->opts.maxBodyBytes);
  int threads = std::max(4, impl_->opts.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_keep_alive_max_count(100);
  s.set_read_timeout(30);
  s.set_write_timeout(30);
  impl_->routes();
}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  auto &o = impl_->opts;
  if (o.port == 0) {
    int port = impl_->server.bind_to_any_port(o.host);
    if (port < 0)
      throw std::runtime_error("cannot listen on " + o.host);
    o.port = port;
    return port;
  }
  if (!impl_->server.bind_to_port(o.host, o.port))
    throw std::runtime_error("cannot listen on " + o.host + ":" +
                             std::to_string(o.port) +
                             " (address in use or not allowed)");
  return o.port;
}

void HttpServer::run() { impl_->server.listen_after_bind(); }

void HttpServer::stop() { impl_->server.stop(); }

} // namespace gpt::serve
