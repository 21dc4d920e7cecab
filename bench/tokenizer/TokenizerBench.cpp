//===- TokenizerBench.cpp -------------------------------------------------===//
//
// Tokenizer encode throughput on tiny Shakespeare with the GPT-2
// vocabulary. "Cold" clears the piece cache before every encode (each
// iteration starts from nothing, like a fresh process); "Warm" keeps it.
// MB/s is reported as bytes_per_second.
#include "runtime/io/FileIO.h"
#include "runtime/tokenizer/PreTokenizer.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <benchmark/benchmark.h>

namespace {
using gpt::tokenizer::Tokenizer;

const Tokenizer &gpt2() {
  static const Tokenizer t = Tokenizer::load(GPT_SHARED_DATA_DIR);
  return t;
}
const std::string &shakespeare() {
  static const std::string s =
      gpt::io::readFile(GPT_SHARED_DATA_DIR "/tinyshakespeare.txt");
  return s;
}

void BM_EncodeCold(benchmark::State &state) {
  const std::string &text = shakespeare();
  std::size_t tokens = 0;
  for (auto _ : state) {
    Tokenizer::clearThreadCache();
    auto ids = gpt2().encode(text);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}
BENCHMARK(BM_EncodeCold)->Unit(benchmark::kMillisecond);

void BM_EncodeWarm(benchmark::State &state) {
  const std::string &text = shakespeare();
  gpt2().encode(text);
  for (auto _ : state) {
    auto ids = gpt2().encode(text);
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_EncodeWarm)->Unit(benchmark::kMillisecond);

void BM_PreTokenize(benchmark::State &state) {
  const std::string &text = shakespeare();
  for (auto _ : state) {
    std::size_t pos = 0, pieces = 0;
    while (pos < text.size()) {
      pos = gpt::tokenizer::nextPieceEnd(text, pos);
      ++pieces;
    }
    benchmark::DoNotOptimize(pieces);
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_PreTokenize)->Unit(benchmark::kMillisecond);

void BM_Decode(benchmark::State &state) {
  auto ids = gpt2().encode(shakespeare());
  for (auto _ : state) {
    std::string s = gpt2().decode(ids);
    benchmark::DoNotOptimize(s.data());
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * shakespeare().size()));
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
