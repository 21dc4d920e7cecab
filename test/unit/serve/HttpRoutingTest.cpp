//===- HttpRoutingTest.cpp ------------------------------------------------===//
//
// routeRequest: every route, the legacy engines alias, model ids in paths,
// 404/405 with escaped echoes of attacker bytes, CORS preflight.
#include "runtime/serve/HttpRouting.h"
#include "runtime/serve/HttpServer.h"

#include <gtest/gtest.h>

using namespace gpt::serve;

TEST(HttpRouting, EveryRoute) {
  EXPECT_EQ(routeRequest("GET", "/health").kind, RouteKind::Health);
  EXPECT_FALSE(routeRequest("GET", "/health").needsAuth);
  EXPECT_EQ(routeRequest("GET", "/metrics").kind, RouteKind::Metrics);
  EXPECT_TRUE(routeRequest("GET", "/metrics").needsAuth);
  EXPECT_EQ(routeRequest("GET", "/v1/models").kind, RouteKind::Models);
  Route m = routeRequest("GET", "/v1/models/gpt2-small_v1.0");
  EXPECT_EQ(m.kind, RouteKind::Model);
  EXPECT_EQ(m.modelId, "gpt2-small_v1.0");
  EXPECT_TRUE(m.needsAuth);
  for (const char *p : {"/v1/completions", "/completions"}) {
    Route r = routeRequest("POST", p);
    EXPECT_EQ(r.kind, RouteKind::Generate) << p;
    EXPECT_EQ(r.endpoint, Endpoint::Completions) << p;
    EXPECT_TRUE(r.needsAuth) << p;
  }
  for (const char *p : {"/v1/chat/completions?x=1", "/chat/completions"}) {
    Route r = routeRequest("POST", p);
    EXPECT_EQ(r.kind, RouteKind::Generate) << p;
    EXPECT_EQ(r.endpoint, Endpoint::ChatCompletions) << p;
  }
  Route e = routeRequest("POST", "/v1/engines/davinci/completions");
  EXPECT_EQ(e.kind, RouteKind::Generate);
  EXPECT_EQ(e.endpoint, Endpoint::Completions);
  EXPECT_EQ(e.modelId, "davinci");
}

TEST(HttpRouting, RefusalsEscapeWhatTheyEcho) {
  Route r = routeRequest("GET", "/%ff\xff\x01/\"x");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.kind, RouteKind::None);
  EXPECT_EQ(r.error, "no such endpoint: GET /%ff\\xff\\x01/\"x");
  Route w = routeRequest("DELETE", "/v1/completions");
  EXPECT_EQ(w.status, 405);
  EXPECT_NE(w.error.find("use POST"), std::string::npos);
  // Model ids outside [A-Za-z0-9._:-] are not routes.
  EXPECT_EQ(routeRequest("GET", "/v1/models/a/b").status, 404);
  EXPECT_EQ(routeRequest("GET", "/v1/models/").status, 404);
  EXPECT_EQ(routeRequest("POST", "/v1/engines//completions").status, 404);
  EXPECT_EQ(routeRequest("GET", "/v1/models/" + std::string(200, 'a')).status,
            404);
  std::string longTarget(10000, '\x80');
  EXPECT_LT(routeRequest("GET", longTarget).error.size(), 300u);
}

TEST(HttpRouting, ChatPageOnlyWhenEnabled) {
  for (const char *p : {"/", "/index.html", "/chat.js", "/chat.css?x"}) {
    EXPECT_EQ(routeRequest("GET", p, false, true).kind, RouteKind::WebAsset)
        << p;
    EXPECT_FALSE(routeRequest("GET", p, false, true).needsAuth) << p;
    EXPECT_EQ(routeRequest("GET", p, false, false).status, 404) << p;
  }
  EXPECT_EQ(routeRequest("GET", "/chat.jsx", false, true).status, 404);
}

TEST(HttpRouting, CorsPreflightOnlyWhenEnabled) {
  EXPECT_EQ(routeRequest("OPTIONS", "/v1/chat/completions").status, 405);
  Route p = routeRequest("OPTIONS", "/v1/chat/completions", true);
  EXPECT_EQ(p.kind, RouteKind::Preflight);
  EXPECT_FALSE(p.needsAuth);
  EXPECT_EQ(routeRequest("OPTIONS", "/nope", true).status, 404);
}

// The HTTP fuzz target's corpus and crashers (test/fuzz/{corpus,crashers}/
// http) replayed through the same request path (HttpFuzz.h): each input
// ends in a route or a typed refusal.
#include "HttpFuzz.h"

#include <filesystem>
#include <fstream>

TEST(FuzzReplay, HttpRequests) {
  namespace fs = std::filesystem;
  int replayed = 0;
  for (const char *sub : {"corpus", "crashers"}) {
    fs::path d = fs::path(GPT_FUZZ_DIR) / sub / "http";
    if (!fs::is_directory(d))
      continue;
    for (const auto &e : fs::directory_iterator(d)) {
      if (!e.is_regular_file() || e.path().filename().string()[0] == '.')
        continue;
      SCOPED_TRACE(e.path().string());
      std::ifstream in(e.path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), {});
      gpt::serve::fuzz::checkRawRequest(bytes);
      ++replayed;
    }
  }
  EXPECT_GE(replayed, 13) << "corpus missing under " << GPT_FUZZ_DIR;
}
