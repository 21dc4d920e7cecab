//===- EngineStream.cpp ---------------------------------------------------===//
#include "EngineStream.h"

#ifdef GPT_HAVE_ENGINE
#include "runtime/serve/TextStream.h"
#include "schema/ModelConfig.h"

#include <filesystem>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

namespace gpt::cli {

StreamedAnswer
streamAnswer(Engine &engine, const tokenizer::Tokenizer &tok,
             std::vector<int32_t> prompt, const SamplingParams &params,
             const std::function<void(const std::string &)> &onText,
             const std::function<bool()> &shouldStop) {
  struct Box {
    std::mutex m;
    std::condition_variable cv;
    std::deque<TokenEvent> events;
  };
  auto box = std::make_shared<Box>(); // outlives us if the engine lags
  uint64_t id =
      engine.submit(std::move(prompt), params, [box](const TokenEvent &ev) {
        {
          std::lock_guard<std::mutex> lock(box->m);
          box->events.push_back(ev);
        }
        box->cv.notify_one();
      });
  serve::TextStream text;
  StreamedAnswer out;
  bool done = false;
  while (!done) {
    std::deque<TokenEvent> batch;
    {
      std::unique_lock<std::mutex> lock(box->m);
      box->cv.wait_for(lock, std::chrono::milliseconds(50),
                       [&] { return !box->events.empty(); });
      batch.swap(box->events);
    }
    if (shouldStop && !out.cancelled && shouldStop()) {
      engine.cancel(id);
      out.cancelled = true;
    }
    for (const TokenEvent &ev : batch) {
      if (ev.token >= 0 && !out.cancelled) {
        ++out.tokens;
        auto t = static_cast<tokenizer::TokenId>(ev.token);
        if (static_cast<size_t>(ev.token) < tok.vocabSize() &&
            !tok.isSpecial(t)) {
          std::string bytes;
          tok.decodeAppend(t, bytes);
          std::string piece = text.push(bytes);
          if (!piece.empty())
            onText(piece);
        }
      }
      if (ev.finished) {
        done = true;
        out.finishReason = ev.finishReason;
        out.error = ev.error;
      }
    }
  }
  std::string tail = text.finish();
  if (!tail.empty())
    onText(tail);
  out.text = text.text();
  return out;
}

int64_t kvBytesForOneSequence(const std::string &runDir) {
  ModelConfig c =
      loadModelConfig((std::filesystem::path(runDir) / "config.json").string());
  // K and V, fp32, every layer; plus a block of slack per layer.
  int64_t perPosition = 2 * c.n_layer * c.d_model * 4;
  return perPosition * (c.context_length + 64) + (1 << 20);
}

std::vector<int32_t> answerStopTokens(const tokenizer::Tokenizer &tok) {
  std::vector<int32_t> stops;
  for (const char *s : {tokenizer::kImEnd, tokenizer::kEndOfText})
    if (auto id = tok.specialId(s))
      stops.push_back(static_cast<int32_t>(*id));
  return stops;
}

} // namespace gpt::cli
#endif
