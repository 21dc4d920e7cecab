//===- EngineBackend.h ------------------------------------------*- C++ -*-===//
//
// gpt::Engine behind the Backend interface. Header-only and kept apart from
// Backend.h so that gpt_serve (and its tests) never link the engine; only
// the `gpt` tool that constructs an Engine does.
#pragma once

#include "runtime/serve/Backend.h"

namespace gpt::serve {

/// The real engine behind the interface (header-only: gpt_serve itself
/// does not link the engine).
class EngineBackend final : public Backend {
public:
  explicit EngineBackend(Engine &engine) : engine_(engine) {}
  int64_t contextLength() const override { return engine_.contextLength(); }
  uint64_t submit(std::vector<int32_t> prompt, const SamplingParams &params,
                  std::function<void(const TokenEvent &)> onToken) override {
    return engine_.submit(std::move(prompt), params, std::move(onToken));
  }
  void cancel(uint64_t id) override { engine_.cancel(id); }
  EngineStats stats() const override { return engine_.stats(); }
  std::vector<PromptTokenScore> scorePrompt(const std::vector<int32_t> &prompt,
                                            int topN) override {
    return engine_.scorePrompt(prompt, topN);
  }

private:
  Engine &engine_;
};

} // namespace gpt::serve
