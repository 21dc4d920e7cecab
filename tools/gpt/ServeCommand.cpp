//===- ServeCommand.cpp ---------------------------------------------------===//
//
// gpt serve: the OpenAI-compatible HTTP server (runtime/serve) over the
// batched generation engine (runtime/engine). SIGTERM or Ctrl-C: stop
// accepting, finish the requests in flight, exit 0.
#include "BackendFlags.h"
#include "Commands.h"

#include "runtime/serve/HttpServer.h"
#include "runtime/serve/Service.h"
#include "runtime/tokenizer/Tokenizer.h"

#ifdef GPT_HAVE_ENGINE
#include "runtime/engine/Engine.h"
#include "runtime/serve/EngineBackend.h"
#endif

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <pthread.h>
#include <thread>

namespace gpt::cli {
namespace fs = std::filesystem;

namespace {

/// The API key from --api-key, --api-key-file (first line) or GPT_API_KEY,
/// in that order; "" when none. Giving both flags is an error.
std::string resolveApiKey(const std::string &flag, const std::string &file) {
  if (!flag.empty() && !file.empty())
    throw std::runtime_error("give --api-key or --api-key-file, not both");
  if (!file.empty()) {
    std::ifstream in(file);
    std::string key;
    if (!in || !std::getline(in, key))
      throw std::runtime_error(file + ": cannot read the API key");
    while (!key.empty() &&
           (key.back() == '\r' || key.back() == ' ' || key.back() == '\t'))
      key.pop_back();
    if (key.empty())
      throw std::runtime_error(file +
                               ": the first line (the API key) is empty");
    return key;
  }
  if (!flag.empty())
    return flag;
  if (const char *env = std::getenv("GPT_API_KEY"); env && *env)
    return env;
  return "";
}

} // namespace

void addServeCommand(CLI::App &app) {
  auto *cmd = app.add_subcommand(
      "serve", "Serve a trained model over an OpenAI-compatible HTTP API "
               "(/v1/completions, /v1/chat/completions, /v1/models, "
               "/health, /metrics)");
  struct Opts {
    std::string model, host = "127.0.0.1", apiKey, apiKeyFile, name;
    BackendOptions backend;
    int port = 8080, parallel = 8, threads = 0;
    size_t maxQueue = 64;
    int64_t kvCacheMb = 256;
    double drainTimeout = 60;
    serve::HttpOptions http;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "Run directory of `gpt train`")
      ->required();
  cmd->add_option("--host", o->host, "Address to listen on")
      ->capture_default_str();
  cmd->add_option("--port", o->port, "Port to listen on (0: any free port)")
      ->capture_default_str();
  cmd->add_option("--api-key", o->apiKey,
                  "Require 'Authorization: Bearer KEY' on /v1/* (also "
                  "--api-key-file or the GPT_API_KEY environment variable)");
  cmd->add_option("--api-key-file", o->apiKeyFile,
                  "Read the API key from the first line of this file");
  cmd->add_option("--parallel", o->parallel,
                  "Sequences decoded together (continuous batching)")
      ->capture_default_str();
  cmd->add_option("--max-queue", o->maxQueue,
                  "Requests waiting beyond the running batch; more: 429")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (default: all)");
  addBackendFlags(cmd, o->backend);
  cmd->add_option("--kv-cache-mb", o->kvCacheMb,
                  "Size of the paged KV cache in MiB")
      ->capture_default_str();
  cmd->add_option("--model-name", o->name,
                  "Model id clients pass as 'model' (default: the run "
                  "directory's name)");
  // HTTP bounds (docs/serving.md lists them and what each answers).
  serve::HttpOptions &h = o->http;
  cmd->add_option("--max-body-bytes", h.maxBodyBytes,
                  "Larger request bodies (any framing) are answered 413")
      ->capture_default_str();
  cmd->add_option("--max-header-bytes", h.maxHeaderBytes,
                  "Larger request headers are answered 431")
      ->capture_default_str();
  cmd->add_option("--max-headers", h.maxHeaders,
                  "More header fields are answered 431")
      ->capture_default_str();
  cmd->add_option("--max-connections", h.maxConnections,
                  "Open connections at most; more get 503 and are closed")
      ->capture_default_str();
  cmd->add_option("--header-timeout", h.headerTimeoutSeconds,
                  "Seconds from a request's first byte to its last header")
      ->capture_default_str();
  cmd->add_option("--body-timeout", h.bodyTimeoutSeconds,
                  "Seconds to receive a request body")
      ->capture_default_str();
  cmd->add_option("--idle-timeout", h.idleTimeoutSeconds,
                  "Seconds a keep-alive connection may wait for a request")
      ->capture_default_str();
  cmd->add_option("--write-timeout", h.writeTimeoutSeconds,
                  "Seconds each write to a client may take (slow readers "
                  "are cut off)")
      ->capture_default_str();
  cmd->add_option("--request-timeout", h.requestTimeoutSeconds,
                  "Seconds a generation may run (0: no limit); then 504, "
                  "or the stream ends")
      ->capture_default_str();
  cmd->add_option("--http-threads", h.threads,
                  "Event-loop threads (0: one per core, at least 2)")
      ->capture_default_str();
  cmd->add_option("--cors-origin", h.corsOrigin,
                  "Allow browser pages from this origin (e.g. "
                  "http://localhost:3000, or *); default: no CORS");
  cmd->add_flag(
      "--no-web-ui", [o](int64_t) { o->http.webUi = false; },
      "Do not serve the chat page at GET /");
  cmd->add_option("--drain-timeout", o->drainTimeout,
                  "After SIGTERM/SIGINT, seconds to finish requests in "
                  "flight before exiting anyway (a second signal exits at "
                  "once)")
      ->capture_default_str();
  cmd->callback([o] {
    if (o->parallel < 1 || o->port < 0 || o->port > 65535 || o->kvCacheMb < 1)
      throw std::runtime_error(
          "need --parallel >= 1, 0 <= --port <= 65535, --kv-cache-mb >= 1");
    const serve::HttpOptions &h = o->http;
    if (h.maxBodyBytes < 1 || h.maxHeaderBytes < 256 || h.maxHeaders < 1 ||
        h.maxConnections < 1 || h.headerTimeoutSeconds <= 0 ||
        h.bodyTimeoutSeconds <= 0 || h.idleTimeoutSeconds <= 0 ||
        h.writeTimeoutSeconds <= 0 || h.requestTimeoutSeconds < 0 ||
        h.threads < 0 || o->drainTimeout <= 0)
      throw std::runtime_error(
          "need --max-body-bytes >= 1, --max-header-bytes >= 256, "
          "--max-headers >= 1, --max-connections >= 1, positive timeouts "
          "(--request-timeout >= 0) and --http-threads >= 0");
    std::string apiKey = resolveApiKey(o->apiKey, o->apiKeyFile);
#ifndef GPT_HAVE_ENGINE
    throw std::runtime_error("this gpt was built without the generation "
                             "engine (runtime/engine)");
#else
    fs::path runDir(o->model);
    if (!fs::is_directory(runDir))
      throw std::runtime_error(o->model + ": not a run directory");
    std::string name = o->name;
    if (name.empty())
      name = fs::weakly_canonical(runDir).filename().string();

    // Signals go to one waiting thread; every other thread (engine, HTTP
    // workers) inherits the blocked mask. A vanished client must not kill
    // the server with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGTERM);
    sigaddset(&stopSignals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

    auto tok = tokenizer::Tokenizer::load(runDir / "tokenizer");
    EngineOptions eo;
    eo.maxBatch = o->parallel;
    eo.maxQueue = o->maxQueue;
    eo.threads = o->threads;
    eo.backend = o->backend.name;
    eo.device = o->backend.device;
    eo.kvCacheBytes = o->kvCacheMb << 20;
    Engine engine(runDir.string(), eo);
    serve::EngineBackend backend(engine);

    serve::ServiceOptions so;
    so.modelName = name;
    so.apiKey = apiKey;
    so.maxPending = static_cast<size_t>(o->parallel) + o->maxQueue;
    serve::Service service(backend, tok, so);
    serve::HttpOptions ho = o->http;
    ho.host = o->host;
    ho.port = o->port;
    ho.maxWorkers = so.maxPending + 16; // the rest get 429 from admission
    serve::HttpServer http(service, ho);
    int port = http.bind();
    std::cout << "gpt serve: model '" << name << "' (context "
              << engine.contextLength() << ") on http://" << o->host << ":"
              << port << "/v1  (parallel " << o->parallel << ", queue "
              << o->maxQueue << (apiKey.empty() ? "" : ", API key required")
              << ")" << std::endl;
    if (ho.webUi)
      std::cout << "gpt serve: chat page at http://" << o->host << ":" << port
                << "/" << std::endl;
    std::cerr << "gpt serve: kernels run on " << engine.deviceDescription()
              << std::endl;

    // First signal: drain (no new requests, finish those in flight) for at
    // most --drain-timeout seconds; a second signal or the deadline exits
    // at once.
    std::atomic<bool> finished{false};
    std::thread waiter([&] {
      int sig = 0;
      sigwait(&stopSignals, &sig);
      if (finished)
        return;
      auto s = engine.stats();
      std::cerr << "gpt serve: " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
                << ": no new requests; finishing " << s.running + s.queued
                << " in flight (at most " << o->drainTimeout
                << " s; a second signal exits now)" << std::endl;
      service.setDraining();
      http.stop();
      timespec deadline{
          static_cast<time_t>(o->drainTimeout),
          static_cast<long>(
              (o->drainTimeout - static_cast<time_t>(o->drainTimeout)) * 1e9)};
      int again = sigtimedwait(&stopSignals, nullptr, &deadline);
      if (finished)
        return;
      std::cerr << "gpt serve: "
                << (again > 0 ? "second signal" : "drain deadline passed")
                << ": exiting with requests unfinished" << std::endl;
      std::_Exit(1);
    });
    http.run();
    // run() may also end on its own; wake the waiter then.
    finished = true;
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    std::cerr << "gpt serve: stopped" << std::endl;
#endif
  });
}

} // namespace gpt::cli
