//===- Evaluate.cpp -------------------------------------------------------===//
#include "runtime/train/Evaluate.h"

#include "runtime/data/Loader.h"
#include "runtime/data/Manifest.h"
#include "runtime/data/Shard.h"

#include <cmath>
#include <stdexcept>

namespace gpt::train {

EvalResult evaluateStreams(Trainer &trainer,
                           const std::vector<TokenStream> &streams,
                           std::int64_t B, std::int64_t T,
                           std::int64_t maxBatches) {
  double lossSum = 0, wSum = 0;
  std::int64_t batches = 0;
  auto run = [&](data::Batch &b) {
    double w = 0;
    double loss = trainer.evalLoss(b, &w);
    if (w > 0) {
      lossSum += loss * w;
      wSum += w;
    }
    b.inputs.clear();
    b.targets.clear();
    b.weights.clear();
    ++batches;
  };
  auto done = [&] { return maxBatches > 0 && batches >= maxBatches; };
  for (const TokenStream &s : streams) {
    const auto n = static_cast<std::int64_t>(s.tokens.size());
    data::Batch b;
    b.seqLen = static_cast<std::size_t>(T);
    b.batchSize = 0;
    auto addWindow = [&](data::Batch &dst, std::int64_t start,
                         std::int64_t len) {
      for (std::int64_t i = 0; i < len; ++i) {
        dst.inputs.push_back(s.tokens[start + i]);
        dst.targets.push_back(s.tokens[start + i + 1]);
        dst.weights.push_back(s.weights.empty() ? 1.0f
                                                : s.weights[start + i + 1]);
      }
    };
    if (s.documentEnd >= 0) {
      for (const data::DocumentWindow &w : data::packDocuments(
               static_cast<std::uint64_t>(n),
               [&](std::uint64_t i) {
                 return static_cast<std::uint32_t>(s.tokens[i]);
               },
               static_cast<std::size_t>(T),
               static_cast<std::uint32_t>(s.documentEnd))) {
        if (done())
          break;
        const auto len = static_cast<std::int64_t>(w.length) - 1;
        addWindow(b, static_cast<std::int64_t>(w.begin), len);
        for (std::int64_t i = len; i < T; ++i) { // padding, weight 0
          b.inputs.push_back(static_cast<std::int32_t>(s.documentEnd));
          b.targets.push_back(static_cast<std::int32_t>(s.documentEnd));
          b.weights.push_back(0.0f);
        }
        if (++b.batchSize == static_cast<std::size_t>(B)) {
          run(b);
          b.batchSize = 0;
        }
      }
      if (b.batchSize > 0 && !done())
        run(b);
      if (done())
        break;
      continue;
    }
    std::int64_t start = 0;
    for (; start + T + 1 <= n && !done(); start += T) {
      addWindow(b, start, T);
      if (++b.batchSize == static_cast<std::size_t>(B)) {
        run(b);
        b.batchSize = 0;
      }
    }
    if (b.batchSize > 0 && !done()) {
      run(b);
      b.batchSize = 0;
    }
    std::int64_t tail = n - start - 1;
    if (tail >= 1 && !done()) {
      data::Batch t;
      t.batchSize = 1;
      t.seqLen = static_cast<std::size_t>(tail);
      addWindow(t, start, tail);
      run(t);
    }
    if (done())
      break;
  }
  EvalResult r;
  r.weightSum = wSum;
  r.loss = wSum > 0 ? lossSum / wSum : 0;
  return r;
}

void finishEval(EvalResult &r, double tokensPerByte) {
  r.tokensPerByte = tokensPerByte;
  r.perplexity = std::exp(r.loss);
  r.bitsPerByte = r.loss * tokensPerByte / std::log(2.0);
}

std::vector<TokenStream> readPreparedSplit(const std::filesystem::path &dir,
                                           const std::string &split,
                                           double *tokensPerByte) {
  data::Manifest m = data::Manifest::load(dir);
  const data::SplitStats &s = m.split(split);
  std::vector<TokenStream> out;
  for (const data::ShardEntry &e : s.shards) {
    data::ShardReader r(dir / e.file);
    TokenStream ts;
    if (m.kind == "chat")
      ts.documentEnd = m.eotId;
    ts.tokens.resize(r.size());
    bool weighted = false;
    for (std::uint64_t i = 0; i < r.size(); ++i) {
      ts.tokens[i] = static_cast<std::int32_t>(r.token(i));
      weighted |= r.weight(i) != 1;
    }
    if (weighted) {
      ts.weights.resize(r.size());
      for (std::uint64_t i = 0; i < r.size(); ++i)
        ts.weights[i] = r.weight(i);
    }
    out.push_back(std::move(ts));
  }
  if (tokensPerByte) {
    if (s.trainedTextBytes > 0 && s.trainedTokens > 0 &&
        s.trainedTokens != s.tokens)
      *tokensPerByte = static_cast<double>(s.trainedTokens) /
                       static_cast<double>(s.trainedTextBytes);
    else if (s.textBytes > 0)
      *tokensPerByte =
          static_cast<double>(s.tokens) / static_cast<double>(s.textBytes);
    else
      *tokensPerByte = 0;
  }
  return out;
}

} // namespace gpt::train
