//===- ThreadPoolTest.cpp - ThreadPool behaviour ------------------------===//
#include "runtime/cpu/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace gpt::cpu {
namespace {

TEST(ThreadPool, CoversRangeWithFixedChunks) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 5, 100, 1001}) {
      std::vector<std::atomic<int>> hits(n);
      std::mutex mu;
      std::set<std::pair<int64_t, int64_t>> chunks;
      pool.parallelFor(n, 7, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i)
          hits[i]++;
        std::lock_guard<std::mutex> lock(mu);
        chunks.insert({b, e});
      });
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
      ASSERT_EQ(static_cast<int64_t>(chunks.size()), numChunks(n, 7));
      for (auto [b, e] : chunks) {
        EXPECT_EQ(b % 7, 0);
        EXPECT_EQ(e, std::min<int64_t>(b + 7, n));
      }
    }
  }
}

TEST(ThreadPool, UsesSeveralThreads) {
  ThreadPool pool(3);
  std::mutex mu;
  std::set<std::thread::id> ids;
  for (int rep = 0; rep < 20 && ids.size() < 2; ++rep)
    pool.parallelFor(64, 1, [&](int64_t, int64_t) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    });
  EXPECT_GE(ids.size(), 2u);
}

TEST(ThreadPool, NestedCallsRunSerially) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  pool.parallelFor(8, 1, [&](int64_t, int64_t) {
    pool.parallelFor(10, 3, [&](int64_t b, int64_t e) { total += e - b; });
  });
  EXPECT_EQ(total.load(), 80);
}

TEST(ThreadPool, RethrowsChunkException) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallelFor(100, 1,
                                [&](int64_t b, int64_t) {
                                  if (b == 37)
                                    throw std::runtime_error("chunk 37");
                                }),
               std::runtime_error);
  // The pool still works afterwards.
  std::atomic<int64_t> total{0};
  pool.parallelFor(100, 10, [&](int64_t b, int64_t e) { total += e - b; });
  EXPECT_EQ(total.load(), 100);
}

TEST(ThreadPool, RejectsZeroThreads) {
  EXPECT_THROW(ThreadPool(0), std::invalid_argument);
}

TEST(ThreadPool, ManySmallJobs) {
  ThreadPool pool(4);
  int64_t sum = 0;
  for (int rep = 0; rep < 2000; ++rep) {
    std::vector<int64_t> part(4, 0);
    pool.parallelFor(4, 1, [&](int64_t b, int64_t) { part[b] = b + rep; });
    for (int64_t p : part)
      sum += p;
  }
  EXPECT_EQ(sum, 2000 * 6 + 4 * (1999 * 2000 / 2));
}

} // namespace
} // namespace gpt::cpu
