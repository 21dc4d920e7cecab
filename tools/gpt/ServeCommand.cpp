// gpt serve: the OpenAI-compatible HTTP server (runtime/serve) over the
// batched generation engine (runtime/engine). SIGTERM or Ctrl-C: stop
// accepting, finish the requests in flight, exit 0.
#include "BackendFlags.h"
#include "Commands.h"

#include "serve/HttpServer.h"
#include "serve/Service.h"
#include "tokenizer/Tokenizer.h"

#ifdef GPT_HAVE_ENGINE
#include "engine/Engine.h"
#include "serve/EngineBackend.h"
#endif

#include <csignal>
#include <filesystem>
#include <iostream>
#include <pthread.h>
#include <thread>

namespace gpt::cli {
namespace fs = std::filesystem;

void addServeCommand(CLI::App &app) {
  auto *cmd = app.add_subcommand(
      "serve", "Serve a trained model over an OpenAI-compatible HTTP API "
               "(/v1/completions, /v1/chat/completions, /v1/models, "
               "/health, /metrics)");
  struct Opts {
    std::string model, host = "127.0.0.1", apiKey, name;
    BackendOptions backend;
    int port = 8080, parallel = 8, threads = 0;
    size_t maxQueue = 64, maxBodyBytes = 8u << 20;
    int64_t kvCacheMb = 256;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "Run directory of `gpt train`")
      ->required();
  cmd->add_option("--host", o->host, "Address to listen on")
      ->capture_default_str();
  cmd->add_option("--port", o->port, "Port to listen on (0: any free port)")
      ->capture_default_str();
  cmd->add_option("--api-key", o->apiKey,
                  "Require 'Authorization: Bearer KEY' on /v1/*");
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
  cmd->add_option("--max-body-bytes", o->maxBodyBytes,
                  "Larger request bodies are answered 413")
      ->capture_default_str();
  cmd->callback([o] {
    if (o->parallel < 1 || o->port < 0 || o->port > 65535 || o->kvCacheMb < 1)
      throw std::runtime_error(
          "need --parallel >= 1, 0 <= --port <= 65535, --kv-cache-mb >= 1");
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
    so.apiKey = o->apiKey;
    so.maxPending = static_cast<size_t>(o->parallel) + o->maxQueue;
    serve::Service service(backend, tok, so);
    serve::HttpOptions ho;
    ho.host = o->host;
    ho.port = o->port;
    ho.maxBodyBytes = o->maxBodyBytes;
    ho.threads = static_cast<int>(std::min<size_t>(512, so.maxPending + 16));
    serve::HttpServer http(service, ho);
    int port = http.bind();
    std::cout << "gpt serve: model '" << name << "' (context "
              << engine.contextLength() << ") on http://" << o->host << ":"
              << port << "/v1  (parallel " << o->parallel << ", queue "
              << o->maxQueue << (o->apiKey.empty() ? "" : ", API key required")
              << ")" << std::endl;
    std::cerr << "gpt serve: kernels run on " << engine.deviceDescription()
              << std::endl;

    std::thread waiter([&] {
      int sig = 0;
      sigwait(&stopSignals, &sig);
      auto s = engine.stats();
      std::cerr << "gpt serve: " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
                << ": no new requests; finishing " << s.running + s.queued
                << " in flight" << std::endl;
      service.setDraining();
      http.stop();
    });
    http.run();
    // run() may also end on its own; wake the waiter then.
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    std::cerr << "gpt serve: stopped" << std::endl;
#endif
  });
}

} // namespace gpt::cli
