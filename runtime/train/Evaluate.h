//===- Evaluate.h -----------------------------------------------*- C++ -*-===//
//
// Evaluation over a token stream: the stream is cut into windows of T+1
// tokens starting every T tokens (the last, shorter window included) — or,
// for chat data, into the loader's windows of whole conversations
// (data::packDocuments), padded at weight 0 — the windows are batched B at a
// time through eval_loss, and the losses are combined weighted by the
// targets' loss weights.
#pragma once

#include "runtime/train/Trainer.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gpt::train {

struct TokenStream {
  std::vector<std::int32_t> tokens;
  std::vector<float> weights; // one per token, or empty (all 1)
  /// >= 0: documents end with this id and windows hold whole documents.
  std::int64_t documentEnd = -1;
};

struct EvalResult {
  double loss = 0;        // mean nats per (weighted) target token
  double weightSum = 0;   // number of (weighted) targets evaluated
  double perplexity = 0;  // exp(loss)
  double bitsPerByte = 0; // loss * tokens / (bytes * ln 2)
  double tokensPerByte = 0;
};

/// Weighted mean loss over the streams (each stream windowed separately).
/// `maxBatches` > 0 stops after that many batches (a quick estimate).
EvalResult evaluateStreams(Trainer &trainer,
                           const std::vector<TokenStream> &streams,
                           std::int64_t B, std::int64_t T,
                           std::int64_t maxBatches = 0);

/// The streams of one split of a prepared directory (one per shard) and its
/// tokens-per-byte ratio from the manifest (weighted tokens and bytes for
/// chat data).
std::vector<TokenStream> readPreparedSplit(const std::filesystem::path &dir,
                                           const std::string &split,
                                           double *tokensPerByte);

/// Fills perplexity and bits per byte from loss and tokensPerByte.
void finishEval(EvalResult &r, double tokensPerByte);

} // namespace gpt::train
