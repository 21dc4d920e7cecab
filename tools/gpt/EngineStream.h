//===- EngineStream.h -------------------------------------------*- C++ -*-===//
//
// One generation request on the engine, streamed as text on the calling
// thread: what `gpt generate` and `gpt chat` share. The engine calls back on
// its own thread; the events are handed over through a queue so the text is
// written here, and a Ctrl-C (shouldStop) cancels the request.
#pragma once

#ifdef GPT_HAVE_ENGINE
#include "runtime/engine/Engine.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <functional>
#include <string>
#include <vector>

namespace gpt::cli {

struct StreamedAnswer {
  std::string text;         ///< everything emitted (valid UTF-8)
  std::string finishReason; ///< the engine's: "stop", "length", "error", ...
  std::string error;        ///< when finishReason == "error"
  bool cancelled = false;   ///< shouldStop() said so
  int64_t tokens = 0;       ///< generated, stop token excluded
};

/// Submits `prompt` and calls `onText` with each piece of decoded text as it
/// becomes safe to print (never half a UTF-8 character; special tokens are
/// not text). Polls `shouldStop` (may be empty) and cancels when it returns
/// true. Throws EngineError when the engine refuses the request.
StreamedAnswer
streamAnswer(Engine &engine, const tokenizer::Tokenizer &tok,
             std::vector<int32_t> prompt, const SamplingParams &params,
             const std::function<void(const std::string &)> &onText,
             const std::function<bool()> &shouldStop = {});

/// A KV pool that holds one sequence of the model's whole context (the
/// run directory's config.json), for the one-user commands.
int64_t kvBytesForOneSequence(const std::string &runDir);

/// The ids that end an answer: <|im_end|> and <|endoftext|> where the
/// tokenizer has them.
std::vector<int32_t> answerStopTokens(const tokenizer::Tokenizer &tok);

} // namespace gpt::cli
#endif
