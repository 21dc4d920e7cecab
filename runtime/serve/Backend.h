//===- Backend.h ------------------------------------------------*- C++ -*-===//
//
// What the server needs from a generation engine: the token-level API of
// gpt::Engine (runtime/engine/Engine.h) behind an interface, so the HTTP
// layer can be tested with a fake engine.
#pragma once

#include <stdexcept>

#include "runtime/engine/Request.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace gpt::serve {

class Backend {
public:
  virtual ~Backend() = default;
  virtual int64_t contextLength() const = 0;
  /// As Engine::submit: throws EngineError (empty prompt, context, queue
  /// full); `onToken` runs on the engine's thread.
  virtual uint64_t submit(std::vector<int32_t> prompt,
                          const SamplingParams &params,
                          std::function<void(const TokenEvent &)> onToken) = 0;
  virtual void cancel(uint64_t id) = 0;
  virtual EngineStats stats() const = 0;
  /// As Engine::scorePrompt: one score per prompt token after the first.
  virtual std::vector<PromptTokenScore>
  scorePrompt(const std::vector<int32_t> &prompt, int topN) = 0;
};

} // namespace gpt::serve
