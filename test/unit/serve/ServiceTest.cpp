//===- ServiceTest.cpp ----------------------------------------------------===//
#include "runtime/serve/Service.h"
#include "FakeBackend.h"
#include "runtime/serve/TextStream.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

using namespace gpt::serve;
using gpt::SamplingParams;
using gpt::serve::test::FakeBackend;
using gpt::serve::test::makeTestTokenizer;
using nlohmann::json;

namespace {

const int32_t kEot = 261, kImStart = 262, kImEnd = 263;

class ServiceTest : public ::testing::Test {
protected:
  gpt::tokenizer::Tokenizer tok = makeTestTokenizer();
  FakeBackend engine;
  std::unique_ptr<Service> svc;

  void SetUp() override { make({}); }
  void make(ServiceOptions o) {
    o.modelName = "tiny";
    svc = std::make_unique<Service>(engine, tok, o);
  }

  std::vector<int32_t> ids(const std::string &text) {
    std::vector<int32_t> out;
    for (auto id : tok.encode(text))
      out.push_back(static_cast<int32_t>(id));
    return out;
  }

  json run(Endpoint e, const json &body) {
    auto job = svc->start(e, body.dump());
    EXPECT_FALSE(job->streaming());
    return job->collect(nullptr);
  }
  json complete(const json &body) { return run(Endpoint::Completions, body); }
  json chat(const json &body) { return run(Endpoint::ChatCompletions, body); }

  int status(Endpoint e, const std::string &body, std::string *param = nullptr,
             std::string *code = nullptr) {
    try {
      auto job = svc->start(e, body);
      job->collect(nullptr);
    } catch (const ApiError &err) {
      if (param)
        *param = err.param;
      if (code)
        *code = err.code;
      return err.status;
    }
    return 200;
  }

  // Runs a streaming request; returns the SSE events' payloads.
  std::vector<std::string> stream(Endpoint e, const json &body,
                                  std::string *raw = nullptr) {
    auto job = svc->start(e, body.dump());
    EXPECT_TRUE(job->streaming());
    std::string all;
    EXPECT_TRUE(job->stream(
        [&](const std::string &s) {
          all += s;
          return true;
        },
        nullptr));
    if (raw)
      *raw = all;
    std::vector<std::string> events;
    size_t pos = 0;
    while (pos < all.size()) {
      size_t end = all.find("\n\n", pos);
      EXPECT_NE(end, std::string::npos) << "unterminated event";
      if (end == std::string::npos)
        break;
      std::string ev = all.substr(pos, end - pos);
      EXPECT_EQ(ev.rfind("data: ", 0), 0u) << ev;
      EXPECT_EQ(ev.find('\n'), std::string::npos) << "one line per event";
      events.push_back(ev.substr(6));
      pos = end + 2;
    }
    return events;
  }
};

json chatBody(const std::string &user) {
  return {{"model", "tiny"},
          {"messages", json::array({{{"role", "user"}, {"content", user}}})}};
}

} // namespace

TEST_F(ServiceTest, CompletionResponseShape) {
  json r = complete({{"model", "tiny"}, {"prompt", "ab"}, {"max_tokens", 5}});
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_EQ(r["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_TRUE(r["created"].is_number_integer());
  EXPECT_EQ(r["model"], "tiny");
  ASSERT_EQ(r["choices"].size(), 1u);
  const json &c = r["choices"][0];
  EXPECT_EQ(c["text"], "ababa");
  EXPECT_EQ(c["index"], 0);
  EXPECT_TRUE(c["logprobs"].is_null());
  EXPECT_EQ(c["finish_reason"], "length");
  EXPECT_EQ(r["usage"], json({{"prompt_tokens", 2},
                              {"completion_tokens", 5},
                              {"total_tokens", 7}}));
  auto sub = engine.submitted();
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].prompt, ids("ab"));
  EXPECT_EQ(sub[0].params.maxTokens, 5);
  EXPECT_EQ(sub[0].params.stopTokens, (std::vector<int32_t>{kEot, kImEnd}));
}

TEST_F(ServiceTest, DefaultMaxTokensIs16ForCompletions) {
  json r = complete({{"model", "tiny"}, {"prompt", "a"}});
  EXPECT_EQ(r["usage"]["completion_tokens"], 16);
  EXPECT_EQ(engine.submitted()[0].params.maxTokens, 16);
}

TEST_F(ServiceTest, StopTokenEndsWithFinishReasonStop) {
  engine.script = [&](const std::vector<int32_t> &, const SamplingParams &) {
    return std::vector<int32_t>{'o', 'k', kImEnd, 'x'};
  };
  json r = complete({{"model", "tiny"}, {"prompt", "q"}, {"max_tokens", 10}});
  EXPECT_EQ(r["choices"][0]["text"], "ok");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(r["usage"]["completion_tokens"], 3);
}

TEST_F(ServiceTest, StopSequenceAcrossTokensCancelsTheEngineRequest) {
  engine.tokenDelay = std::chrono::milliseconds(1);
  engine.script = [&](const std::vector<int32_t> &, const SamplingParams &) {
    std::vector<int32_t> t = {'1', ' ', 'E', 'N'};
    for (int i = 0; i < 40; ++i)
      t.push_back('D');
    return t;
  };
  json r = complete({{"model", "tiny"},
                     {"prompt", "q"},
                     {"max_tokens", 40},
                     {"stop", json::array({"XYZ", "END"})}});
  EXPECT_EQ(r["choices"][0]["text"], "1 ");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(r["usage"]["completion_tokens"], 5);
  EXPECT_EQ(engine.cancelledCount(), 1u);
}

TEST_F(ServiceTest, NGivesNEngineRequestsWithDistinctSeeds) {
  json r = complete({{"model", "tiny"},
                     {"prompt", "ab"},
                     {"max_tokens", 3},
                     {"n", 3},
                     {"seed", 42},
                     {"temperature", 0.7}});
  ASSERT_EQ(r["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r["choices"][i]["index"], i);
    EXPECT_EQ(r["choices"][i]["text"], "aba");
  }
  EXPECT_EQ(r["usage"]["prompt_tokens"], 2); // the prompt counts once
  EXPECT_EQ(r["usage"]["completion_tokens"], 9);
  auto sub = engine.submitted();
  ASSERT_EQ(sub.size(), 3u);
  std::set<uint64_t> seeds;
  for (auto &s : sub) {
    EXPECT_TRUE(s.params.hasSeed);
    EXPECT_FLOAT_EQ(s.params.temperature, 0.7f);
    seeds.insert(s.params.seed);
  }
  EXPECT_EQ(seeds, (std::set<uint64_t>{42, 43, 44}));
}

TEST_F(ServiceTest, PromptArrayTimesN) {
  json r = complete({{"model", "tiny"},
                     {"prompt", json::array({"ab", "cd"})},
                     {"max_tokens", 2},
                     {"n", 2}});
  ASSERT_EQ(r["choices"].size(), 4u);
  EXPECT_EQ(r["choices"][0]["text"], "ab");
  EXPECT_EQ(r["choices"][1]["text"], "ab");
  EXPECT_EQ(r["choices"][2]["text"], "cd");
  EXPECT_EQ(r["choices"][3]["index"], 3);
  EXPECT_EQ(r["usage"]["prompt_tokens"], 4);
}

TEST_F(ServiceTest, TokenPromptsAndEcho) {
  json r = complete({{"model", "tiny"},
                     {"prompt", json::array({'h', 'i'})},
                     {"max_tokens", 2},
                     {"echo", true}});
  EXPECT_EQ(r["choices"][0]["text"], "hihi");
  r = complete(
      {{"model", "tiny"}, {"prompt", "yo"}, {"max_tokens", 0}, {"echo", true}});
  EXPECT_EQ(r["choices"][0]["text"], "yo");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r["usage"]["completion_tokens"], 0);
}

TEST_F(ServiceTest, CompletionLogprobs) {
  json r = complete({{"model", "tiny"},
                     {"prompt", "ab"},
                     {"max_tokens", 2},
                     {"logprobs", 2},
                     {"echo", true}});
  const json &lp = r["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"], json({"a", "b", "a", "b"}));
  // Prompt tokens: the first has no score; the next is scored by the model
  // (the fake engine: -0.5 * id, top ids 0, 1).
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  EXPECT_TRUE(lp["top_logprobs"][0].is_null());
  EXPECT_FLOAT_EQ(lp["token_logprobs"][1].get<float>(),
                  -0.5f * float(ids("b")[0]));
  EXPECT_EQ(lp["top_logprobs"][1].size(), 2u);
  EXPECT_FLOAT_EQ(lp["token_logprobs"][2].get<float>(), -0.25f);
  EXPECT_EQ(lp["top_logprobs"][2].size(), 2u);
  EXPECT_FLOAT_EQ(lp["top_logprobs"][2]["a"].get<float>(), -1.0f);
  EXPECT_EQ(lp["text_offset"], json({0, 1, 2, 3}));
  EXPECT_EQ(engine.submitted()[0].params.logprobs, 2);
}

TEST_F(ServiceTest, ChatRendersTheTemplateAndAnswers) {
  engine.script = [&](const std::vector<int32_t> &, const SamplingParams &) {
    std::vector<int32_t> t = ids("hello there");
    t.push_back(kImEnd);
    return t;
  };
  json body = {
      {"model", "tiny"},
      {"messages", json::array({{{"role", "system"}, {"content", "S"}},
                                {{"role", "user"}, {"content", "U"}},
                                {{"role", "assistant"}, {"content", "A"}},
                                {{"role", "user"}, {"content", "V"}}})}};
  json r = chat(body);
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  const json &c = r["choices"][0];
  EXPECT_EQ(c["message"]["role"], "assistant");
  EXPECT_EQ(c["message"]["content"], "hello there");
  EXPECT_EQ(c["finish_reason"], "stop");
  gpt::tokenizer::ChatTemplate tmpl(tok);
  auto rendered = tmpl.render({{gpt::tokenizer::Role::System, "S"},
                               {gpt::tokenizer::Role::User, "U"},
                               {gpt::tokenizer::Role::Assistant, "A"},
                               {gpt::tokenizer::Role::User, "V"}},
                              true);
  std::vector<int32_t> expected(rendered.ids.begin(), rendered.ids.end());
  auto sub = engine.submitted();
  EXPECT_EQ(sub[0].prompt, expected);
  EXPECT_EQ(sub[0].prompt[0], kImStart);
  // Without max_tokens a chat may use the rest of the context.
  EXPECT_EQ(sub[0].params.maxTokens, 64 - static_cast<int>(expected.size()));
  EXPECT_EQ(r["usage"]["prompt_tokens"], expected.size());
}

TEST_F(ServiceTest, ChatLogprobs) {
  json body = chatBody("hi");
  body["max_tokens"] = 1;
  body["logprobs"] = true;
  body["top_logprobs"] = 1;
  json r = chat(body);
  const json &content = r["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 1u);
  EXPECT_TRUE(content[0]["token"].is_string());
  EXPECT_FLOAT_EQ(content[0]["logprob"].get<float>(), -0.25f);
  EXPECT_TRUE(content[0]["bytes"].is_array());
  ASSERT_EQ(content[0]["top_logprobs"].size(), 1u);
  EXPECT_EQ(content[0]["top_logprobs"][0]["token"], "a");
  EXPECT_EQ(content[0]["top_logprobs"][0]["bytes"], json({97}));
}

TEST_F(ServiceTest, ErrorStatuses) {
  std::string param, code;
  EXPECT_EQ(status(Endpoint::Completions, "{nope", &param), 400);
  EXPECT_EQ(status(Endpoint::Completions,
                   R"({"model":"tiny","prompt":"x","temperature":9})", &param),
            400);
  EXPECT_EQ(param, "temperature");
  EXPECT_EQ(status(Endpoint::Completions, R"({"model":"big","prompt":"x"})",
                   &param, &code),
            404);
  EXPECT_EQ(param, "model");
  EXPECT_EQ(code, "model_not_found");
  // A prompt that fills the context (64) leaves no room: refused, never
  // truncated.
  json full = {{"model", "tiny"}, {"prompt", std::string(64, 'x')}};
  EXPECT_EQ(status(Endpoint::Completions, full.dump(), &param, &code), 400);
  EXPECT_EQ(param, "prompt");
  EXPECT_EQ(code, "context_length_exceeded");
  full["max_tokens"] = 0; // nothing asked for: fits
  EXPECT_EQ(status(Endpoint::Completions, full.dump()), 200);
  full["prompt"] = std::string(65, 'x');
  EXPECT_EQ(status(Endpoint::Completions, full.dump(), &param, &code), 400);
  EXPECT_EQ(param, "prompt");
  json longChat = chatBody(std::string(70, 'y'));
  EXPECT_EQ(status(Endpoint::ChatCompletions, longChat.dump(), &param, &code),
            400);
  EXPECT_EQ(param, "messages");
  EXPECT_EQ(code, "context_length_exceeded");
  EXPECT_EQ(status(Endpoint::Completions,
                   R"({"model":"tiny","prompt":[99999]})", &param),
            400);
  EXPECT_EQ(param, "prompt");
}

// The seed's request shape (max_tokens beyond what the context leaves, stop
// null, n 1, temperature 0.7): generation stops at the context with
// finish_reason "length" instead of a 400 (docs/serving.md).
TEST_F(ServiceTest, CompletionStopsAtTheContext) {
  json r = complete({{"model", "tiny"},
                     {"prompt", std::string(60, 'x')},
                     {"max_tokens", 150},
                     {"n", 1},
                     {"stop", nullptr},
                     {"temperature", 0.7}});
  ASSERT_EQ(r["choices"].size(), 1u);
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r["usage"]["prompt_tokens"], 60);
  EXPECT_EQ(r["usage"]["completion_tokens"], 4);
  EXPECT_EQ(r["usage"]["total_tokens"], 64);
  auto sub = engine.submitted();
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].params.maxTokens, 4);
  // The default of 16 completion tokens is cut the same way.
  r = complete({{"model", "tiny"}, {"prompt", std::string(60, 'x')}});
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r["usage"]["completion_tokens"], 4);
  // Chat: max_tokens far beyond the context (the fake answers "a" until
  // it is stopped).
  const int32_t a = ids("a")[0];
  engine.script = [a](const std::vector<int32_t> &, const SamplingParams &p) {
    return std::vector<int32_t>(static_cast<size_t>(p.maxTokens), a);
  };
  json body = chatBody("hi");
  body["max_tokens"] = 100000;
  r = chat(body);
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r["usage"]["total_tokens"], 64);
  // Within the room, max_tokens is kept as asked.
  r = complete({{"model", "tiny"}, {"prompt", "ab"}, {"max_tokens", 5}});
  EXPECT_EQ(r["usage"]["completion_tokens"], 5);
}

TEST_F(ServiceTest, QueueFullIs429) {
  ServiceOptions o;
  o.maxPending = 2;
  make(o);
  engine.tokenDelay = std::chrono::milliseconds(5);
  auto a = svc->start(Endpoint::Completions,
                      R"({"model":"tiny","prompt":"x","max_tokens":20})");
  std::string code;
  EXPECT_EQ(status(Endpoint::Completions,
                   R"({"model":"tiny","prompt":"x","max_tokens":20,"n":2})",
                   nullptr, &code),
            429);
  EXPECT_EQ(code, "rate_limit_exceeded");
  a->collect(nullptr);
  // Slots are given back: the same request now fits.
  EXPECT_EQ(status(Endpoint::Completions,
                   R"({"model":"tiny","prompt":"x","max_tokens":2,"n":2})"),
            200);
}

TEST_F(ServiceTest, EngineQueueFullIs429AndOtherEngineErrors400) {
  engine.submitError = "the request queue is full (256 waiting)";
  EXPECT_EQ(status(Endpoint::Completions, R"({"model":"tiny","prompt":"x"})"),
            429);
  engine.submitError = "something else";
  EXPECT_EQ(status(Endpoint::Completions, R"({"model":"tiny","prompt":"x"})"),
            400);
}

TEST_F(ServiceTest, EngineFailureIs500) {
  engine.failWith = "out of KV blocks";
  EXPECT_EQ(status(Endpoint::Completions, R"({"model":"tiny","prompt":"x"})"),
            500);
}

TEST_F(ServiceTest, AuthorizationHeader) {
  svc->authorize(""); // no key configured: anything goes
  ServiceOptions o;
  o.apiKey = "sekrit";
  make(o);
  EXPECT_NO_THROW(svc->authorize("Bearer sekrit"));
  for (const char *bad : {"", "Bearer nope", "sekrit", "Basic sekrit"}) {
    try {
      svc->authorize(bad);
      ADD_FAILURE() << bad;
    } catch (const ApiError &e) {
      EXPECT_EQ(e.status, 401);
      EXPECT_EQ(e.code, "invalid_api_key");
    }
  }
}

TEST_F(ServiceTest, DrainingIs503) {
  svc->setDraining();
  EXPECT_EQ(status(Endpoint::Completions, R"({"model":"tiny","prompt":"x"})"),
            503);
  EXPECT_EQ(svc->health()["status"], "shutting_down");
}

TEST_F(ServiceTest, ClientGoneCancelsEverything) {
  engine.tokenDelay = std::chrono::milliseconds(5);
  auto job =
      svc->start(Endpoint::Completions,
                 R"({"model":"tiny","prompt":"x","max_tokens":50,"n":2})");
  auto t0 = std::chrono::steady_clock::now();
  json r = job->collect([&] {
    return std::chrono::steady_clock::now() - t0 >
           std::chrono::milliseconds(30);
  });
  EXPECT_TRUE(r.is_null());
  EXPECT_EQ(engine.cancelledCount(), 2u);
}

TEST_F(ServiceTest, DroppedJobCancelsItsRequests) {
  engine.tokenDelay = std::chrono::milliseconds(5);
  {
    auto job = svc->start(
        Endpoint::Completions,
        R"({"model":"tiny","prompt":"x","max_tokens":50,"stream":true})");
  }
  EXPECT_EQ(engine.cancelledCount(), 1u);
}

TEST_F(ServiceTest, ModelsAndMetrics) {
  json m = svc->models();
  EXPECT_EQ(m["object"], "list");
  EXPECT_EQ(m["data"][0]["id"], "tiny");
  EXPECT_EQ(m["data"][0]["object"], "model");
  EXPECT_EQ(m["data"][0]["owned_by"], "gpt");
  complete({{"model", "tiny"}, {"prompt", "ab"}, {"max_tokens", 3}});
  svc->countError(400);
  std::string text = svc->metrics();
  for (const char *line :
       {"gpt_requests_total{endpoint=\"completions\"} 1",
        "gpt_prompt_tokens_total 2", "gpt_generated_tokens_total 3",
        "gpt_request_errors_total{status=\"400\"} 1",
        "# TYPE gpt_tokens_per_second gauge", "gpt_queue_depth 0",
        "gpt_kv_cache_blocks_total 100", "gpt_kv_cache_usage_ratio"})
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
}

// --- Streaming ---------------------------------------------------------------

TEST_F(ServiceTest, CompletionStreamFraming) {
  std::string raw;
  auto events = stream(Endpoint::Completions,
                       {{"model", "tiny"},
                        {"prompt", "ab"},
                        {"max_tokens", 3},
                        {"stream", true}},
                       &raw);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  std::string id;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    json j = json::parse(events[i]);
    EXPECT_EQ(j["object"], "text_completion");
    if (id.empty())
      id = j["id"];
    EXPECT_EQ(j["id"], id); // one id for the whole stream
    EXPECT_FALSE(j.contains("usage"));
    text += j["choices"][0]["text"].get<std::string>();
    bool last = i + 2 == events.size();
    EXPECT_EQ(j["choices"][0]["finish_reason"].is_null(), !last);
  }
  EXPECT_EQ(text, "aba");
  EXPECT_EQ(
      json::parse(events[events.size() - 2])["choices"][0]["finish_reason"],
      "length");
}

TEST_F(ServiceTest, ChatStreamWithUsage) {
  engine.script = [&](const std::vector<int32_t> &, const SamplingParams &) {
    std::vector<int32_t> t = ids("hey");
    t.push_back(kImEnd);
    return t;
  };
  json body = chatBody("hi");
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  auto events = stream(Endpoint::ChatCompletions, body);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  json first = json::parse(events[0]);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(first["usage"].is_null());
  std::string text;
  for (size_t i = 1; i + 2 < events.size(); ++i) {
    json j = json::parse(events[i]);
    auto &d = j["choices"][0]["delta"];
    if (d.contains("content"))
      text += d["content"].get<std::string>();
  }
  json fin = json::parse(events[events.size() - 3]);
  EXPECT_EQ(fin["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(text, "hey");
  json usage = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], ids("hey").size() + 1);
  EXPECT_GT(usage["usage"]["prompt_tokens"].get<int>(), 0);
}

TEST_F(ServiceTest, StreamNeverSplitsCharactersOrLeaksStops) {
  // "é" as two byte tokens, then a stop sequence spread over tokens.
  engine.script = [&](const std::vector<int32_t> &, const SamplingParams &) {
    return std::vector<int32_t>{'c', 'a', 'f', 0xC3, 0xA9, ' ', '#',
                                '#', 'x', '#', '#',  '#',  'z'};
  };
  auto events = stream(Endpoint::Completions, {{"model", "tiny"},
                                               {"prompt", "q"},
                                               {"max_tokens", 20},
                                               {"stop", "###"},
                                               {"stream", true}});
  std::string text;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    json j = json::parse(events[i]); // throws on invalid UTF-8 too
    std::string piece = j["choices"][0]["text"];
    EXPECT_EQ(gpt::serve::completeUtf8Prefix(piece), piece.size());
    EXPECT_EQ(piece.find('#') == std::string::npos ||
                  text.size() + piece.size() <= 9,
              true);
    text += piece;
  }
  EXPECT_EQ(text, "caf\xC3\xA9 ##x");
  EXPECT_EQ(
      json::parse(events[events.size() - 2])["choices"][0]["finish_reason"],
      "stop");
}

TEST_F(ServiceTest, StreamNChoicesInterleaveWithIndexes) {
  auto events = stream(Endpoint::ChatCompletions, [] {
    json b = chatBody("x");
    b["n"] = 2;
    b["max_tokens"] = 3;
    b["stream"] = true;
    return b;
  }());
  std::map<int, std::string> finish;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    json j = json::parse(events[i]);
    int idx = j["choices"][0]["index"];
    if (!j["choices"][0]["finish_reason"].is_null())
      finish[idx] = j["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(finish, (std::map<int, std::string>{{0, "length"}, {1, "length"}}));
}

TEST_F(ServiceTest, StreamEchoAndLogprobs) {
  auto events = stream(Endpoint::Completions, {{"model", "tiny"},
                                               {"prompt", "ab"},
                                               {"max_tokens", 2},
                                               {"echo", true},
                                               {"logprobs", 1},
                                               {"stream", true}});
  json first = json::parse(events[0]);
  EXPECT_EQ(first["choices"][0]["text"], "ab");
  std::vector<std::string> tokens;
  for (size_t i = 1; i + 1 < events.size(); ++i) {
    json j = json::parse(events[i]);
    auto &lp = j["choices"][0]["logprobs"];
    if (lp.is_null())
      continue;
    for (auto &t : lp["tokens"])
      tokens.push_back(t);
  }
  EXPECT_EQ(tokens, (std::vector<std::string>{"a", "b"}));
}

TEST_F(ServiceTest, StreamWriteFailureCancels) {
  engine.tokenDelay = std::chrono::milliseconds(2);
  auto job = svc->start(Endpoint::Completions,
                        R"({"model":"tiny","prompt":"x","max_tokens":50,
                            "stream":true})");
  int writes = 0;
  EXPECT_FALSE(
      job->stream([&](const std::string &) { return ++writes < 3; }, nullptr));
  EXPECT_EQ(engine.cancelledCount(), 1u);
}

TEST_F(ServiceTest, StreamEngineErrorIsAnErrorEvent) {
  engine.failWith = "boom";
  auto events = stream(Endpoint::Completions,
                       {{"model", "tiny"}, {"prompt", "x"}, {"stream", true}});
  ASSERT_EQ(events.size(), 1u);
  json e = json::parse(events[0]);
  EXPECT_EQ(e["error"]["type"], "server_error");
  EXPECT_NE(e["error"]["message"].get<std::string>().find("boom"),
            std::string::npos);
}

TEST_F(ServiceTest, ConcurrentJobsAllComplete) {
  engine.tokenDelay = std::chrono::milliseconds(1);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&, i] {
      json r = complete({{"model", "tiny"},
                         {"prompt", std::string(1, 'a' + i)},
                         {"max_tokens", 4}});
      if (r["choices"][0]["text"] == std::string(4, 'a' + i))
        ++ok;
    });
  for (auto &t : threads)
    t.join();
  EXPECT_EQ(ok, 16);
}

// Text that cannot fit the context in tokens of the longest byte length is
// refused from its byte count, before any tokenization (a few MiB of
// unspaced text would otherwise cost BPE work first).
TEST_F(ServiceTest, OverlongTextIsRefusedBeforeTokenizing) {
  for (Endpoint e : {Endpoint::Completions, Endpoint::ChatCompletions}) {
    json body =
        e == Endpoint::Completions
            ? json{{"model", "tiny"}, {"prompt", std::string(4u << 20, 'a')}}
            : chatBody(std::string(4u << 20, 'a'));
    try {
      svc->start(e, body.dump());
      ADD_FAILURE() << "accepted";
    } catch (const ApiError &err) {
      EXPECT_EQ(err.status, 400);
      EXPECT_EQ(err.code, "context_length_exceeded");
      EXPECT_EQ(err.param, e == Endpoint::Completions ? "prompt" : "messages");
      EXPECT_NE(std::string(err.what()).find("bytes of text"),
                std::string::npos)
          << err.what();
    }
  }
}

// logit_bias reaches the engine for every choice; ids beyond the vocabulary
// are 400 before anything is submitted.
TEST_F(ServiceTest, LogitBiasReachesTheEngine) {
  json body = {{"model", "tiny"},
               {"prompt", "ab"},
               {"max_tokens", 2},
               {"n", 2},
               {"logit_bias", {{"5", -100}, {"7", 3}}}};
  run(Endpoint::Completions, body);
  auto subs = engine.submitted();
  ASSERT_EQ(subs.size(), 2u);
  for (const auto &sub : subs) {
    std::map<int32_t, float> bias(sub.params.logitBias.begin(),
                                  sub.params.logitBias.end());
    EXPECT_EQ(bias, (std::map<int32_t, float>{{5, -100.0f}, {7, 3.0f}}));
  }
  std::string param;
  body["logit_bias"] = {{"264", 1}};
  EXPECT_EQ(status(Endpoint::Completions, body.dump(), &param), 400);
  EXPECT_EQ(param, "logit_bias");
}

// What lm-evaluation-harness's local-completions sends: echo, max_tokens 0
// and logprobs; every prompt token after the first gets the model's score.
TEST_F(ServiceTest, EchoWithZeroTokensScoresThePrompt) {
  json r = complete({{"model", "tiny"},
                     {"prompt", "abab"},
                     {"max_tokens", 0},
                     {"logprobs", 1},
                     {"echo", true}});
  const json &lp = r["choices"][0]["logprobs"];
  std::vector<int32_t> p = ids("abab");
  ASSERT_EQ(lp["tokens"].size(), p.size());
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  for (size_t i = 1; i < p.size(); ++i) {
    EXPECT_FLOAT_EQ(lp["token_logprobs"][i].get<float>(), -0.5f * float(p[i]));
    EXPECT_EQ(lp["top_logprobs"][i].size(), 1u);
  }
  EXPECT_EQ(r["choices"][0]["text"], "abab");
  EXPECT_EQ(engine.scored().size(), 1u);
  // Without logprobs nothing is scored.
  complete(
      {{"model", "tiny"}, {"prompt", "ab"}, {"max_tokens", 0}, {"echo", true}});
  EXPECT_EQ(engine.scored().size(), 1u);
}
