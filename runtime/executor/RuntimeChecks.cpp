//===- RuntimeChecks.cpp --------------------------------------------------===//
#include "runtime/executor/RuntimeChecks.h"
#include "runtime/executor/Executor.h"

#include <string>

namespace gpt {

void checkTokenIds(const int32_t *ids, int64_t n, int64_t V, const char *what) {
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= V)
      throw ExecutorError(std::string(what) + " " + std::to_string(ids[i]) +
                          " at position " + std::to_string(i) +
                          " out of range [0, " + std::to_string(V) + ")");
}

void checkPositions(const int32_t *start, int64_t B, int64_t T, int64_t C) {
  if (!start && T > C)
    throw ExecutorError("sequence length T = " + std::to_string(T) +
                        " exceeds the context length " + std::to_string(C));
  for (int64_t b = 0; start && b < B; ++b)
    if (start[b] < 0 || int64_t(start[b]) + T > C)
      throw ExecutorError("sequence " + std::to_string(b) + ": positions " +
                          std::to_string(start[b]) + ".." +
                          std::to_string(int64_t(start[b]) + T - 1) +
                          " exceed the context length " + std::to_string(C));
}

void checkPagedPositions(const int32_t *table, const int32_t *start, int64_t B,
                         int64_t T, int64_t NB, int64_t BS, int64_t N) {
  for (int64_t b = 0; b < B; ++b) {
    int64_t s = start[b], last = s + T - 1;
    std::string seq = "sequence " + std::to_string(b) + ": ";
    if (s < 0)
      throw ExecutorError(seq + "start " + std::to_string(s) + " is negative");
    if (last >= NB * BS)
      throw ExecutorError(seq + "position " + std::to_string(last) +
                          " does not fit the block table (" +
                          std::to_string(NB) + " x " + std::to_string(BS) +
                          " positions)");
    for (int64_t blk = 0; blk <= last / BS; ++blk) {
      int64_t id = table[b * NB + blk];
      if (id < 0 || id >= N)
        throw ExecutorError(seq + "block_table[" + std::to_string(blk) +
                            "] = " + std::to_string(id) +
                            " is outside the pool [0, " + std::to_string(N) +
                            ")");
    }
  }
}

} // namespace gpt
