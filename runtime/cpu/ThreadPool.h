//===- ThreadPool.h - One fixed-size pool for all CPU kernels ------------===//
//
// The CPU kernels run their parallel loops on one ThreadPool. Work is split
// into chunks whose boundaries depend only on the loop length and the grain the
// kernel asks for, never on the number of threads or on timing; every chunk
// computes the same values whichever thread runs it. Kernels that reduce do so
// per chunk and then combine the chunk results in chunk order, so their
// results are bit-identical for a fixed thread count (and, as designed, for
// any thread count).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace gpt::cpu {

/// Non-owning reference to a callable `void(int64_t begin, int64_t end)`.
/// The callable must outlive the call it is passed to.
class RangeFn {
public:
  template <typename F, typename = std::enable_if_t<
                            !std::is_same<std::decay_t<F>, RangeFn>::value>>
  RangeFn(F &&f) // NOLINT: implicit by design
      : obj_(const_cast<void *>(static_cast<const void *>(&f))),
        call_([](void *obj, int64_t begin, int64_t end) {
          (*static_cast<std::remove_reference_t<F> *>(obj))(begin, end);
        }) {}
  void operator()(int64_t begin, int64_t end) const { call_(obj_, begin, end); }

private:
  void *obj_;
  void (*call_)(void *, int64_t, int64_t);
};

/// A fixed set of worker threads. The thread calling parallelFor takes part
/// in the work, so a pool of N threads starts N-1 workers.
class ThreadPool {
public:
  /// Throws std::invalid_argument unless numThreads >= 1.
  explicit ThreadPool(int numThreads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int numThreads() const { return numThreads_; }

  /// Runs fn(begin, end) over [0, n) split into ceil(n / grain) chunks
  /// [c*grain, min(n, (c+1)*grain)). Returns when all chunks are done. The
  /// first exception thrown by a chunk is rethrown here (remaining chunks
  /// still run). Calls made from inside a chunk (nested) run serially on the
  /// calling thread with the same chunk boundaries. Concurrent calls from
  /// different outside threads are serialized.
  void parallelFor(int64_t n, int64_t grain, RangeFn fn);

  /// The process-wide pool the kernels use by default. Its size comes from
  /// the GPT_THREADS environment variable, else std::thread's
  /// hardware_concurrency(). Created on first use.
  static ThreadPool &global();
  /// Replaces the global pool by one of numThreads threads. Must not race
  /// with kernels running on the global pool.
  static void setGlobalThreads(int numThreads);

private:
  void workerLoop();
  void runChunks();

  int numThreads_;
  std::vector<std::thread> workers_;

  std::mutex callMutex_; // serializes parallelFor callers
  std::mutex mutex_;
  std::condition_variable wakeCv_;
  std::condition_variable doneCv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> finished_{0};
  bool stop_ = false;

  // The job currently running (valid while a parallelFor is in flight).
  int64_t jobN_ = 0;
  int64_t jobGrain_ = 1;
  int64_t jobChunks_ = 0;
  const RangeFn *jobFn_ = nullptr;
  std::atomic<int64_t> nextChunk_{0};
  std::mutex errorMutex_;
  std::exception_ptr error_;
};

/// Number of chunks parallelFor(n, grain, ...) runs.
inline int64_t numChunks(int64_t n, int64_t grain) {
  return n <= 0 ? 0 : (n + grain - 1) / grain;
}

} // namespace gpt::cpu
