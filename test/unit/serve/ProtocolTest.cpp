//===- ProtocolTest.cpp ---------------------------------------------------===//
#include "runtime/serve/Protocol.h"

#include <gtest/gtest.h>

#include <map>

using namespace gpt::serve;

namespace {

// The parameter an invalid body is rejected for ("" = none named).
std::string rejectedParam(Endpoint e, const std::string &body) {
  try {
    parseGenerationRequest(e, body);
  } catch (const ApiError &err) {
    EXPECT_EQ(err.status, 400) << body;
    EXPECT_EQ(err.type, "invalid_request_error");
    return err.param.empty() ? "<none>" : err.param;
  }
  return "<accepted>";
}

const Endpoint C = Endpoint::Completions;
const Endpoint Chat = Endpoint::ChatCompletions;

} // namespace

TEST(Protocol, ParsesACompletionRequest) {
  auto r = parseGenerationRequest(
      C, R"({"model":"m","prompt":"Hi","max_tokens":5,"n":2,"stop":["\n"],
             "temperature":0,"top_p":0.5,"seed":-3,"stream":true,
             "stream_options":{"include_usage":true},"logprobs":2,
             "echo":true,"presence_penalty":1.5,"frequency_penalty":-1,
             "user":"u","some_future_field":{"x":1}})");
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_EQ(r.prompts[0].text, "Hi");
  EXPECT_EQ(*r.maxTokens, 5);
  EXPECT_EQ(r.n, 2);
  EXPECT_EQ(r.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(r.temperature, 0.0);
  EXPECT_EQ(r.topP, 0.5);
  EXPECT_EQ(*r.seed, -3);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.includeUsage);
  EXPECT_EQ(r.logprobs, 2);
  EXPECT_TRUE(r.echo);
  EXPECT_EQ(r.presencePenalty, 1.5);
  EXPECT_EQ(r.frequencyPenalty, -1.0);
  EXPECT_EQ(r.user, "u");
}

TEST(Protocol, PromptForms) {
  auto r = parseGenerationRequest(C, R"({"model":"m","prompt":["a","b"]})");
  ASSERT_EQ(r.prompts.size(), 2u);
  EXPECT_EQ(r.prompts[1].text, "b");
  r = parseGenerationRequest(C, R"({"model":"m","prompt":[1,2,3]})");
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_TRUE(r.prompts[0].isTokens);
  EXPECT_EQ(r.prompts[0].tokens, (std::vector<int64_t>{1, 2, 3}));
  r = parseGenerationRequest(C, R"({"model":"m","prompt":[[1],[2,3]]})");
  EXPECT_EQ(r.prompts.size(), 2u);
  r = parseGenerationRequest(C, R"({"model":"m","prompt":"x","stop":"\n"})");
  EXPECT_EQ(r.stop, std::vector<std::string>{"\n"});
  EXPECT_FALSE(r.maxTokens.has_value());
}

TEST(Protocol, NullMeansDefault) {
  auto r = parseGenerationRequest(
      C, R"({"model":"m","prompt":"x","max_tokens":null,"n":null,
             "temperature":null,"stop":null,"seed":null})");
  EXPECT_FALSE(r.maxTokens);
  EXPECT_EQ(r.n, 1);
  EXPECT_EQ(r.temperature, 1.0);
  EXPECT_FALSE(r.seed);
}

TEST(Protocol, ParsesChat) {
  auto r = parseGenerationRequest(Chat, R"({"model":"m","messages":[
        {"role":"system","content":"Be brief."},
        {"role":"user","content":[{"type":"text","text":"Hi "},
                                  {"type":"text","text":"there"}]},
        {"role":"assistant","content":null},
        {"role":"developer","content":"dev"}],
        "max_completion_tokens":7,"logprobs":true,"top_logprobs":3})");
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[0].role, gpt::tokenizer::Role::System);
  EXPECT_EQ(r.messages[1].content, "Hi there");
  EXPECT_EQ(r.messages[2].content, "");
  EXPECT_EQ(r.messages[3].role, gpt::tokenizer::Role::System);
  EXPECT_EQ(*r.maxTokens, 7);
  EXPECT_EQ(r.logprobs, 3);
  r = parseGenerationRequest(
      Chat, R"({"model":"m","messages":[{"role":"user","content":"x"}],
                "logprobs":true})");
  EXPECT_EQ(r.logprobs, 0);
}

TEST(Protocol, MalformedBodies) {
  EXPECT_EQ(rejectedParam(C, "{"), "<none>");
  EXPECT_EQ(rejectedParam(C, ""), "<none>");
  EXPECT_EQ(rejectedParam(C, "[1,2]"), "<none>");
  EXPECT_EQ(rejectedParam(C, "\"text\""), "<none>");
  EXPECT_EQ(rejectedParam(C, "{\"model\":\"m\",\"prompt\":\"\xFF\"}"),
            "<none>"); // invalid UTF-8
}

TEST(Protocol, EveryParameterIsTypeChecked) {
  struct Case {
    Endpoint e;
    const char *body;
    const char *param;
  } cases[] = {
      {C, R"({"prompt":"x"})", "model"},
      {C, R"({"model":3,"prompt":"x"})", "model"},
      {C, R"({"model":"m"})", "prompt"},
      {C, R"({"model":"m","prompt":5})", "prompt"},
      {C, R"({"model":"m","prompt":[]})", "prompt"},
      {C, R"({"model":"m","prompt":["a",1]})", "prompt"},
      {C, R"({"model":"m","prompt":"x","max_tokens":"5"})", "max_tokens"},
      {C, R"({"model":"m","prompt":"x","max_tokens":1.5})", "max_tokens"},
      {C, R"({"model":"m","prompt":"x","max_tokens":-1})", "max_tokens"},
      {C, R"({"model":"m","prompt":"x","n":0})", "n"},
      {C, R"({"model":"m","prompt":"x","n":17})", "n"},
      {C, R"({"model":"m","prompt":"x","n":true})", "n"},
      {C, R"({"model":"m","prompt":"x","stop":3})", "stop"},
      {C, R"({"model":"m","prompt":"x","stop":["a",3]})", "stop"},
      {C, R"({"model":"m","prompt":"x","temperature":2.5})", "temperature"},
      {C, R"({"model":"m","prompt":"x","temperature":-0.1})", "temperature"},
      {C, R"({"model":"m","prompt":"x","temperature":"hot"})", "temperature"},
      {C, R"({"model":"m","prompt":"x","top_p":1.1})", "top_p"},
      {C, R"({"model":"m","prompt":"x","top_k":-1})", "top_k"},
      {C, R"({"model":"m","prompt":"x","seed":"1"})", "seed"},
      {C, R"({"model":"m","prompt":"x","stream":"yes"})", "stream"},
      {C, R"({"model":"m","prompt":"x","stream_options":1})", "stream_options"},
      {C, R"({"model":"m","prompt":"x","stream_options":{"include_usage":1}})",
       "stream_options.include_usage"},
      {C, R"({"model":"m","prompt":"x","logprobs":6})", "logprobs"},
      {C, R"({"model":"m","prompt":"x","logprobs":true})", "logprobs"},
      {C, R"({"model":"m","prompt":"x","echo":1})", "echo"},
      {C, R"({"model":"m","prompt":"x","presence_penalty":3})",
       "presence_penalty"},
      {C, R"({"model":"m","prompt":"x","frequency_penalty":-2.5})",
       "frequency_penalty"},
      {C, R"({"model":"m","prompt":"x","user":1})", "user"},
      {Chat, R"({"model":"m"})", "messages"},
      {Chat, R"({"model":"m","messages":{}})", "messages"},
      {Chat, R"({"model":"m","messages":[]})", "messages"},
      {Chat, R"({"model":"m","messages":["hi"]})", "messages[0]"},
      {Chat, R"({"model":"m","messages":[{"content":"x"}]})",
       "messages[0].role"},
      {Chat, R"({"model":"m","messages":[{"role":"tool","content":"x"}]})",
       "messages[0].role"},
      {Chat, R"({"model":"m","messages":[{"role":"user"}]})",
       "messages[0].content"},
      {Chat, R"({"model":"m","messages":[{"role":"user","content":5}]})",
       "messages[0].content"},
      {Chat,
       R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url"}]}]})",
       "messages[0].content"},
      {Chat,
       R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0})",
       "max_tokens"},
      {Chat,
       R"({"model":"m","messages":[{"role":"user","content":"x"}],"logprobs":1})",
       "logprobs"},
      {Chat,
       R"({"model":"m","messages":[{"role":"user","content":"x"}],"top_logprobs":2})",
       "top_logprobs"},
      {Chat,
       R"({"model":"m","messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21})",
       "top_logprobs"},
  };
  for (const Case &c : cases)
    EXPECT_EQ(rejectedParam(c.e, c.body), c.param) << c.body;
}

TEST(Protocol, ErrorShape) {
  ApiError e(400, "bad n", "n");
  auto j = e.body();
  EXPECT_EQ(j.dump(), R"({"error":{"code":null,"message":"bad n",)"
                      R"("param":"n","type":"invalid_request_error"}})");
  ApiError k(401, "no key", "", "invalid_api_key");
  EXPECT_EQ(k.body()["error"]["code"], "invalid_api_key");
  EXPECT_TRUE(k.body()["error"]["param"].is_null());
  EXPECT_EQ(ApiError(429, "busy").body()["error"]["type"], "rate_limit_error");
}

// Parameters this server does not implement are refused naming them (the
// client would otherwise believe they applied); values that ask for
// nothing pass.
TEST(Protocol, UnsupportedParametersAreRefusedByName) {
  struct Case {
    const char *extra;
    const char *param; // "" : accepted
  } cases[] = {
      {R"("logit_bias":{"50256":-100})", ""},
      {R"("logit_bias":{})", ""},
      {R"("logit_bias":{"x":1})", "logit_bias"},
      {R"("logit_bias":{"-1":1})", "logit_bias"},
      {R"("logit_bias":{"1":101})", "logit_bias"},
      {R"("logit_bias":{"1":"5"})", "logit_bias"},
      {R"("logit_bias":[1])", "logit_bias"},
      {R"("response_format":{"type":"json_object"})", "response_format"},
      {R"("response_format":{"type":"text"})", ""},
      {R"("tools":[{"type":"function"}])", "tools"},
      {R"("tools":[])", ""},
      {R"("functions":[{"name":"f"}])", "functions"},
      {R"("tool_choice":"auto")", "tool_choice"},
      {R"("tool_choice":"none")", ""},
      {R"("function_call":"auto")", "function_call"},
      {R"("suffix":"!")", "suffix"},
      {R"("suffix":"")", ""},
      {R"("best_of":3)", "best_of"},
      {R"("best_of":1)", ""},
      {R"("best_of":2,"n":2)", ""},
      {R"("logit_bias":null)", ""},
  };
  for (const Case &c : cases) {
    std::string body =
        std::string(R"({"model":"m","prompt":"x",)") + c.extra + "}";
    std::string got = rejectedParam(C, body);
    EXPECT_EQ(got, *c.param ? c.param : "<accepted>") << body;
  }
}

TEST(Protocol, LogitBiasIsParsed) {
  GenerationRequest r = parseGenerationRequest(
      C, R"({"model":"m","prompt":"x","logit_bias":{"7":-100,"12":2.5}})");
  ASSERT_EQ(r.logitBias.size(), 2u);
  std::map<int64_t, double> got(r.logitBias.begin(), r.logitBias.end());
  EXPECT_EQ(got.at(7), -100.0);
  EXPECT_EQ(got.at(12), 2.5);
}
