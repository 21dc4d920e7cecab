//===- Engine.h -------------------------------------------------*- C++ -*-===//
//
// Engine: batched text generation from a trained run directory, with a
// paged KV cache and continuous batching. The HTTP server, `gpt chat` and
// `gpt generate` sit on top of it; it knows tokens, not text.
//
// Threading: submit()/cancel() may be called from any thread; one engine
// thread (started by the constructor) runs prefill and decode steps and
// invokes each request's callback from that thread. Requests join the
// running batch between decode steps and leave it when they finish or are
// cancelled, freeing their KV blocks at once.
#pragma once

#include "runtime/engine/Request.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace gpt {

struct EngineOptions {
  int maxBatch = 16;                ///< sequences decoded together at most
  int64_t kvCacheBytes = 256 << 20; ///< size of the paged KV pool (all layers)
  int threads = 0;                  ///< 0: all hardware threads (CPU)
  std::string backend = "cpu";      ///< "cpu" | "vulkan"
  int device = -1;                  ///< Vulkan device (-1: the best one)
  bool profile = false;             ///< per-kernel times (kernelProfile(); GPU
                                    ///< timestamps on Vulkan)
  size_t maxQueue = 256;            ///< waiting requests beyond this: rejected
  int prefillChunk = 256;           ///< prompt tokens per prefill call at most
  /// The compiler, used only when the run directory's artifact lacks
  /// prefill/decode: "" = $GPT_GPTC, next to the running binary, or PATH.
  std::string gptc;
};

class Engine {
public:
  /// Loads the run directory (config, artifact with prefill/decode,
  /// model.safetensors). Throws EngineError with a clear message.
  Engine(const std::string &runDir, const EngineOptions &options);
  ~Engine(); ///< cancels everything and joins the engine thread

  int64_t contextLength() const;
  /// Where the kernels run ("CPU (avx512, 2 threads)", "Vulkan 1.3 ...").
  std::string deviceDescription() const;
  /// The most device memory held at once (Vulkan); 0 on the CPU.
  uint64_t peakDeviceMemoryBytes() const;
  int64_t vocabSize() const;

  /// Queues a request. Throws EngineError when the prompt is empty or has a
  /// token outside [0, vocab), when maxTokens < 1, when prompt + maxTokens
  /// exceeds the context (or could never fit the KV pool), when a sampling
  /// parameter is out of range, or when the queue is full.
  /// onToken is called once per generated token and a last time with
  /// finished = true. Returns the request id.
  uint64_t submit(std::vector<int32_t> prompt, const SamplingParams &params,
                  std::function<void(const TokenEvent &)> onToken);
  /// Stops a request (client gone): its slot and KV blocks are freed before
  /// the next decode step. Unknown or finished ids are ignored.
  void cancel(uint64_t id);

  /// Scores a prompt (what `echo` + `logprobs` asks for): one entry per
  /// token after the first, from one `forward` call on the engine thread
  /// between decode steps (log-softmax of the raw logits, as generated
  /// tokens' logprobs). Blocks until done. Throws EngineError for an empty
  /// or over-long prompt, ids outside the vocabulary, topN outside
  /// [0, 20], or an artifact without `forward`.
  std::vector<PromptTokenScore> scorePrompt(const std::vector<int32_t> &prompt,
                                            int topN);

  EngineStats stats() const;

  /// Per-kernel time (seconds, calls) summed over the prefill and decode
  /// calls since the engine started or since resetKernelProfile(); empty
  /// unless EngineOptions::profile.
  std::map<std::string, std::pair<double, int64_t>> kernelProfile() const;
  /// Starts a new profile (applied before the engine's next call).
  void resetKernelProfile();

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

} // namespace gpt
