//===- ThreadPool.cpp - One fixed-size pool for all CPU kernels ----------===//
#include "runtime/cpu/ThreadPool.h"

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GPT_CPU_RELAX() _mm_pause()
#else
#define GPT_CPU_RELAX() std::this_thread::yield()
#endif

namespace gpt::cpu {
namespace {
// Set on pool workers and on a caller while it runs chunks: nested
// parallelFor calls then run serially instead of deadlocking.
thread_local bool insideParallelRegion = false;
// Spin iterations before a waiting thread blocks on its condition variable.
constexpr int kSpinIterations = 4000;
} // namespace

ThreadPool::ThreadPool(int numThreads) : numThreads_(numThreads) {
  if (numThreads < 1)
    throw std::invalid_argument("ThreadPool: thread count must be >= 1, got " +
                                std::to_string(numThreads));
  workers_.reserve(numThreads - 1);
  for (int i = 1; i < numThreads; ++i)
    workers_.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wakeCv_.notify_all();
  for (std::thread &t : workers_)
    t.join();
}

void ThreadPool::runChunks() {
  for (;;) {
    int64_t c = nextChunk_.fetch_add(1, std::memory_order_relaxed);
    if (c >= jobChunks_)
      return;
    int64_t begin = c * jobGrain_;
    int64_t end = begin + jobGrain_ < jobN_ ? begin + jobGrain_ : jobN_;
    try {
      (*jobFn_)(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(errorMutex_);
      if (!error_)
        error_ = std::current_exception();
    }
  }
}

void ThreadPool::workerLoop() {
  insideParallelRegion = true;
  uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < kSpinIterations &&
                    generation_.load(std::memory_order_acquire) == seen;
         ++i)
      GPT_CPU_RELAX();
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wakeCv_.wait(lock, [&] {
        return generation_.load(std::memory_order_acquire) != seen;
      });
    }
    seen = generation_.load(std::memory_order_acquire);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_)
        return;
    }
    runChunks();
    if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 ==
        numThreads_ - 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      doneCv_.notify_one();
    }
  }
}

void ThreadPool::parallelFor(int64_t n, int64_t grain, RangeFn fn) {
  if (grain < 1)
    grain = 1;
  int64_t chunks = numChunks(n, grain);
  if (chunks == 0)
    return;
  if (insideParallelRegion || numThreads_ == 1 || chunks == 1) {
    for (int64_t c = 0; c < chunks; ++c) {
      int64_t begin = c * grain;
      fn(begin, begin + grain < n ? begin + grain : n);
    }
    return;
  }

  std::lock_guard<std::mutex> callLock(callMutex_);
  jobN_ = n;
  jobGrain_ = grain;
  jobChunks_ = chunks;
  jobFn_ = &fn;
  error_ = nullptr;
  nextChunk_.store(0, std::memory_order_relaxed);
  finished_.store(0, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wakeCv_.notify_all();

  insideParallelRegion = true;
  runChunks();
  insideParallelRegion = false;

  for (int i = 0; i < kSpinIterations &&
                  finished_.load(std::memory_order_acquire) != numThreads_ - 1;
       ++i)
    GPT_CPU_RELAX();
  if (finished_.load(std::memory_order_acquire) != numThreads_ - 1) {
    std::unique_lock<std::mutex> lock(mutex_);
    doneCv_.wait(lock, [&] {
      return finished_.load(std::memory_order_acquire) == numThreads_ - 1;
    });
  }
  jobFn_ = nullptr;
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

namespace {
std::mutex globalMutex;
std::unique_ptr<ThreadPool> globalPool;

int defaultThreadCount() {
  if (const char *env = std::getenv("GPT_THREADS")) {
    char *end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end == env || *end != '\0' || v < 1 || v > 4096)
      throw std::invalid_argument(
          std::string("GPT_THREADS: expected a thread count in [1, 4096], "
                      "got '") +
          env + "'");
    return static_cast<int>(v);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}
} // namespace

ThreadPool &ThreadPool::global() {
  std::lock_guard<std::mutex> lock(globalMutex);
  if (!globalPool)
    globalPool = std::make_unique<ThreadPool>(defaultThreadCount());
  return *globalPool;
}

void ThreadPool::setGlobalThreads(int numThreads) {
  auto pool = std::make_unique<ThreadPool>(numThreads);
  std::lock_guard<std::mutex> lock(globalMutex);
  globalPool = std::move(pool);
}

} // namespace gpt::cpu
