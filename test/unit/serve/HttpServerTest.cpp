//===- HttpServerTest.cpp -------------------------------------------------===//
//
// The HTTP layer on a real loopback socket with the fake engine: routes,
// API key, body limit, error shapes, SSE over chunked HTTP, and clients
// that hang up.
#include "runtime/serve/HttpServer.h"
#include "FakeBackend.h"

#include <httplib.h>

#include <gtest/gtest.h>

#include <thread>

using namespace gpt::serve;
using gpt::serve::test::FakeBackend;
using gpt::serve::test::makeTestTokenizer;
using nlohmann::json;

namespace {

class HttpServerTest : public ::testing::Test {
protected:
  gpt::tokenizer::Tokenizer tok = makeTestTokenizer();
  FakeBackend engine;
  std::unique_ptr<Service> svc;
  std::unique_ptr<HttpServer> http;
  std::thread thread;
  int port = 0;

  void start(const std::string &apiKey = "", bool webUi = true) {
    ServiceOptions o;
    o.modelName = "tiny";
    o.apiKey = apiKey;
    svc = std::make_unique<Service>(engine, tok, o);
    HttpOptions h;
    h.port = 0;
    h.maxBodyBytes = 4096;
    h.threads = 8;
    h.webUi = webUi;
    http = std::make_unique<HttpServer>(*svc, h);
    port = http->bind();
    thread = std::thread([this] { http->run(); });
  }
  void TearDown() override {
    if (http) {
      http->stop();
      thread.join();
    }
  }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(10);
    return c;
  }
  static json errorOf(const httplib::Result &r) {
    EXPECT_TRUE(r);
    json j = json::parse(r->body);
    EXPECT_TRUE(j["error"].contains("message"));
    EXPECT_TRUE(j["error"].contains("type"));
    EXPECT_TRUE(j["error"].contains("param"));
    EXPECT_TRUE(j["error"].contains("code"));
    return j["error"];
  }
};

bool waitFor(const std::function<bool()> &cond) {
  for (int i = 0; i < 300; ++i) {
    if (cond())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

} // namespace

TEST_F(HttpServerTest, HealthModelsCompletion) {
  start();
  auto c = client();
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body)["status"], "ok");
  auto m = c.Get("/v1/models");
  ASSERT_TRUE(m);
  EXPECT_EQ(json::parse(m->body)["data"][0]["id"], "tiny");
  auto r = c.Post("/v1/completions",
                  R"({"model":"tiny","prompt":"ab","max_tokens":3})",
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(r->body)["choices"][0]["text"], "aba");
  auto mt = c.Get("/metrics");
  ASSERT_TRUE(mt);
  EXPECT_NE(mt->body.find("gpt_generated_tokens_total 3"), std::string::npos);
}

TEST_F(HttpServerTest, ErrorStatusesHaveOpenAIShape) {
  start();
  auto c = client();
  auto r = c.Post("/v1/completions", "{not json", "application/json");
  EXPECT_EQ(r->status, 400);
  errorOf(r);
  r = c.Post("/v1/chat/completions", R"({"model":"tiny","messages":[],"n":1})",
             "application/json");
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(errorOf(r)["param"], "messages");
  r = c.Post("/v1/completions", R"({"model":"gpt-4","prompt":"x"})",
             "application/json");
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(errorOf(r)["code"], "model_not_found");
  r = c.Post(
      "/v1/completions",
      json({{"model", "tiny"}, {"prompt", std::string(5000, 'x')}}).dump(),
      "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(errorOf(r)["code"], "request_too_large");
  auto g = client().Get("/v1/nothing");
  EXPECT_EQ(g->status, 404);
  errorOf(g);
}

TEST_F(HttpServerTest, ApiKey) {
  start("k1");
  auto c = client();
  auto r = c.Get("/v1/models");
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(errorOf(r)["code"], "invalid_api_key");
  r = c.Post("/v1/completions", R"({"model":"tiny","prompt":"x"})",
             "application/json");
  EXPECT_EQ(r->status, 401);
  c.set_bearer_token_auth("wrong");
  EXPECT_EQ(c.Get("/v1/models")->status, 401);
  c.set_bearer_token_auth("k1");
  EXPECT_EQ(c.Get("/v1/models")->status, 200);
  EXPECT_EQ(c.Post("/v1/completions",
                   R"({"model":"tiny","prompt":"x","max_tokens":1})",
                   "application/json")
                ->status,
            200);
  EXPECT_EQ(client().Get("/health")->status, 200); // no key needed
}

TEST_F(HttpServerTest, StreamsServerSentEvents) {
  start();
  auto c = client();
  std::string body;
  httplib::Headers headers;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = R"({"model":"tiny","prompt":"ab","max_tokens":4,"stream":true})";
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char *data, size_t len, uint64_t, uint64_t) {
    body.append(data, len);
    return true;
  };
  auto r = c.send(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_EQ(body.substr(body.size() - 14), "data: [DONE]\n\n");
  std::string text;
  size_t pos = 0;
  while ((pos = body.find("data: {", pos)) != std::string::npos) {
    size_t end = body.find("\n\n", pos);
    text +=
        json::parse(body.substr(pos + 6, end - pos - 6))["choices"][0]["text"]
            .get<std::string>();
    pos = end;
  }
  EXPECT_EQ(text, "abab");
}

TEST_F(HttpServerTest, StreamingClientHangsUpAndIsCancelled) {
  engine.tokenDelay = std::chrono::milliseconds(10);
  start();
  auto c = client();
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = R"({"model":"tiny","prompt":"ab","max_tokens":60,"stream":true})";
  req.set_header("Content-Type", "application/json");
  int chunks = 0;
  req.content_receiver = [&](const char *, size_t, uint64_t, uint64_t) {
    return ++chunks < 3; // then hang up
  };
  c.send(req);
  c.stop();
  EXPECT_TRUE(waitFor([&] { return engine.cancelledCount() == 1; }));
  EXPECT_TRUE(waitFor([&] { return engine.liveCount() == 0; }));
}

TEST_F(HttpServerTest, NonStreamingClientHangsUpAndIsCancelled) {
  engine.tokenDelay = std::chrono::milliseconds(10);
  start();
  auto c = client();
  c.set_read_timeout(0, 200000); // gives up after 0.2 s of 0.6 s
  auto r = c.Post("/v1/completions",
                  R"({"model":"tiny","prompt":"ab","max_tokens":60})",
                  "application/json");
  EXPECT_FALSE(r);
  c.stop();
  EXPECT_TRUE(waitFor([&] { return engine.cancelledCount() == 1; }));
}

TEST_F(HttpServerTest, StopLetsInFlightRequestsFinish) {
  engine.tokenDelay = std::chrono::milliseconds(5);
  start();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    svc->setDraining();
    http->stop();
  });
  auto r = client().Post("/v1/completions",
                         R"({"model":"tiny","prompt":"ab","max_tokens":30})",
                         "application/json");
  stopper.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(
      json::parse(r->body)["choices"][0]["text"].get<std::string>().size(),
      30u);
  thread.join();
  http.reset();
}

// The chat page: served at GET / with a strict Content-Security-Policy
// (also with --api-key: the page asks for the key), its script and style
// from the same origin; --no-web-ui makes them 404.
TEST_F(HttpServerTest, ServesTheChatPage) {
  start("sekrit");
  auto c = client();
  auto r = c.Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  std::string csp = r->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_NE(r->body.find("<script src=\"/chat.js\""), std::string::npos);
  EXPECT_EQ(r->body.find("<script>"), std::string::npos) << "no inline code";
  auto js = c.Get("/chat.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->get_header_value("Content-Type"),
            "text/javascript; charset=utf-8");
  EXPECT_NE(js->body.find("renderMarkdown"), std::string::npos);
  auto css = c.Get("/chat.css?v=1");
  ASSERT_TRUE(css);
  EXPECT_EQ(css->status, 200);
  EXPECT_EQ(c.Post("/", "x", "text/plain")->status, 405);
  EXPECT_EQ(c.Get("/v1/models")->status, 401) << "the API still needs the key";
}

TEST_F(HttpServerTest, NoWebUi) {
  start("", /*webUi=*/false);
  auto c = client();
  EXPECT_EQ(c.Get("/")->status, 404);
  EXPECT_EQ(c.Get("/chat.js")->status, 404);
  EXPECT_EQ(c.Get("/health")->status, 200);
}
