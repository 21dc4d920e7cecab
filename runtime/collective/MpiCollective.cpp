//===- MpiCollective.cpp - The process group of an MPI job (plugin) -------===//
//
// Built as the gpt_mpi plugin (libgpt_mpi.so), the only code that links
// libmpi. Reductions are nonblocking (MPI_Iallreduce) so that a bucket
// travels while the executor runs the rest of the backward; progress() is
// called between kernels because Open MPI advances nonblocking collectives
// only inside MPI calls. Every wait polls against a deadline instead of
// blocking in MPI, so that a dead or stopped peer turns into an error that
// names it (from the step check-ins) and an MPI_Abort of the job.
//
// Determinism: the same world size runs the same reduction algorithm on the
// same bytes, so repeated runs are bitwise identical; mean is the sum times
// 1/N on every rank.
//
//===----------------------------------------------------------------------===//
#include "runtime/collective/Collective.h"

#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

namespace gpt::collective {
namespace {
using Clock = std::chrono::steady_clock;

int envInt(const char *name, int fallback) {
  const char *v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

class MpiCollective : public Collective {
public:
  explicit MpiCollective(const Options &options) : options_(options) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      // Only the calling thread talks to MPI (the kernel pool does not).
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      ownsMpi_ = true;
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &data_);
    MPI_Comm_dup(MPI_COMM_WORLD, &checkins_);
    MPI_Comm_set_errhandler(data_, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(checkins_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(data_, &rank_);
    MPI_Comm_size(data_, &size_);
    localRank_ = envInt("OMPI_COMM_WORLD_LOCAL_RANK",
                        envInt("MPI_LOCALRANKID", envInt("SLURM_LOCALID", 0)));
    char version[MPI_MAX_LIBRARY_VERSION_STRING] = {};
    int len = 0;
    MPI_Get_library_version(version, &len);
    library_ = std::string(version, version + len);
    if (auto nl = library_.find_first_of(",\n"); nl != std::string::npos)
      library_.resize(nl);
  }

  ~MpiCollective() override {
    if (!ownsMpi_)
      return;
    // The last step's check-ins: every peer sent them, so they complete
    // at once; a request still open after a second is cancelled.
    const auto deadline = Clock::now() + std::chrono::seconds(1);
    for (auto &round : rounds_)
      for (auto *requests : {&round->recvs, &round->requests})
        for (MPI_Request &r : *requests) {
          int done = 0;
          while (!done && Clock::now() < deadline)
            MPI_Test(&r, &done, MPI_STATUS_IGNORE);
          if (!done) {
            MPI_Cancel(&r);
            MPI_Request_free(&r);
          }
        }
    MPI_Comm_free(&data_);
    MPI_Comm_free(&checkins_);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
      MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int worldSize() const override { return size_; }
  int localRank() const override { return localRank_; }
  std::string description() const override {
    return "MPI (" + library_ + "), " + std::to_string(size_) + " ranks";
  }

  void startAllReduce(const std::vector<Span> &spans,
                      Reduction reduction) override {
    if (rounds_.size() == 1) // the step's first bucket
      checkIn("the gradient reduction of step " + std::to_string(step_ + 1));
    Bucket &b = freshBucket();
    b.spans = spans;
    b.reduction = reduction;
    float *buffer = nullptr;
    std::size_t count = 0;
    if (spans.size() == 1) {
      buffer = spans[0].data; // in place, no staging copy
      count = spans[0].count;
    } else {
      for (const Span &s : spans)
        count += s.count;
      b.staging.resize(count);
      std::size_t at = 0;
      for (const Span &s : spans) {
        std::memcpy(b.staging.data() + at, s.data, s.count * sizeof(float));
        at += s.count;
      }
      buffer = b.staging.data();
    }
    if (count > static_cast<std::size_t>(INT32_MAX))
      fail("all_reduce of " + std::to_string(count) +
           " floats exceeds MPI's int count; use smaller buckets");
    check(MPI_Iallreduce(MPI_IN_PLACE, buffer, static_cast<int>(count),
                         MPI_FLOAT, MPI_SUM, data_, &b.request),
          "MPI_Iallreduce");
    b.active = true;
  }

  void progress() override {
    for (Bucket &b : buckets_)
      if (b.active && b.request != MPI_REQUEST_NULL) {
        int done = 0;
        check(MPI_Test(&b.request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      }
  }

  void waitAll() override {
    for (Bucket &b : buckets_) {
      if (!b.active)
        continue;
      waitFor(b.request, "the gradient all_reduce");
      finish(b);
    }
  }

  bool pending() const override {
    for (const Bucket &b : buckets_)
      if (b.active)
        return true;
    return false;
  }

  void allReduce(double *values, std::size_t n, Reduction reduction) override {
    MPI_Request r = MPI_REQUEST_NULL;
    check(MPI_Iallreduce(MPI_IN_PLACE, values, static_cast<int>(n), MPI_DOUBLE,
                         MPI_SUM, data_, &r),
          "MPI_Iallreduce");
    waitFor(r, "a reduction of host values");
    if (reduction == Reduction::Mean)
      for (std::size_t i = 0; i < n; ++i)
        values[i] /= size_;
  }

  void broadcast(void *data, std::size_t bytes, int root) override {
    MPI_Request r = MPI_REQUEST_NULL;
    check(MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, root, data_, &r),
          "MPI_Ibcast");
    waitFor(r, "a broadcast from rank " + std::to_string(root));
  }

  void barrier() override {
    MPI_Request r = MPI_REQUEST_NULL;
    check(MPI_Ibarrier(data_, &r), "MPI_Ibarrier");
    waitFor(r, "a barrier");
  }

  void beginStep(std::int64_t step) override {
    // The previous step's check-ins first (they arrived long ago unless a
    // peer is gone), then this step's.
    for (auto &round : rounds_)
      for (auto *requests : {&round->recvs, &round->requests})
        for (MPI_Request &r : *requests)
          waitFor(r, "the check-ins of step " + std::to_string(step_ + 1));
    rounds_.clear();
    step_ = step;
    checkIn("step " + std::to_string(step + 1));
  }

  [[noreturn]] void abort(const std::string &why) override {
    std::fprintf(stderr, "%s\n", why.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 3);
    std::_Exit(3); // MPI_Abort does not return; this is for the compiler
  }

private:
  struct Bucket {
    std::vector<Span> spans;
    std::vector<float> staging; // kept between steps: no per-step allocation
    Reduction reduction = Reduction::Sum;
    MPI_Request request = MPI_REQUEST_NULL;
    bool active = false;
  };

  /// An idle bucket (the same ones are reused every step).
  Bucket &freshBucket() {
    for (Bucket &b : buckets_)
      if (!b.active)
        return b;
    buckets_.emplace_back();
    return buckets_.back();
  }

  void finish(Bucket &b) {
    const float scale =
        b.reduction == Reduction::Mean ? 1.0f / static_cast<float>(size_) : 1;
    if (b.spans.size() == 1) {
      if (scale != 1)
        for (std::size_t i = 0; i < b.spans[0].count; ++i)
          b.spans[0].data[i] *= scale;
    } else {
      std::size_t at = 0;
      for (const Span &s : b.spans) {
        const float *src = b.staging.data() + at;
        for (std::size_t i = 0; i < s.count; ++i)
          s.data[i] = src[i] * scale;
        at += s.count;
      }
    }
    b.active = false;
  }

  /// Polls `r` until it completes or the timeout passes (then aborts the
  /// job, naming the ranks that did not check in to this step).
  void waitFor(MPI_Request &r, const std::string &what) {
    const auto deadline =
        Clock::now() +
        std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(options_.timeoutSeconds));
    int spins = 0;
    while (true) {
      int done = 0;
      check(MPI_Test(&r, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (done)
        return;
      for (Bucket &b : buckets_) // keep the other buckets moving too
        if (b.active && &b.request != &r && b.request != MPI_REQUEST_NULL) {
          int other = 0;
          check(MPI_Test(&b.request, &other, MPI_STATUS_IGNORE), "MPI_Test");
        }
      if (Clock::now() > deadline)
        abort(timeoutMessage(what));
      // Spin briefly, then yield the core (ranks may share cores).
      if (++spins > 1000)
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  /// Tells every peer that this rank reached `point` (a round of one tiny
  /// message each way), so that a timeout can name who did not.
  void checkIn(const std::string &point) {
    if (size_ == 1)
      return;
    auto round = std::make_unique<Round>();
    round->point = point;
    round->received.assign(size_, -1);
    const int tag = static_cast<int>(rounds_.size());
    myStep_ = static_cast<long long>(step_);
    for (int peer = 0; peer < size_; ++peer) {
      if (peer == rank_)
        continue;
      MPI_Request recv = MPI_REQUEST_NULL, send = MPI_REQUEST_NULL;
      check(MPI_Irecv(&round->received[peer], 1, MPI_LONG_LONG, peer, tag,
                      checkins_, &recv),
            "MPI_Irecv");
      check(MPI_Isend(&myStep_, 1, MPI_LONG_LONG, peer, tag, checkins_, &send),
            "MPI_Isend");
      round->peers.push_back(peer);
      round->recvs.push_back(recv);
      round->requests.push_back(send);
    }
    rounds_.push_back(std::move(round));
  }

  std::string timeoutMessage(const std::string &what) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%g", options_.timeoutSeconds);
    std::string msg = "gpt: rank " + std::to_string(rank_) + ": waited " +
                      secs + " s for " + what + " in step " +
                      std::to_string(step_ + 1) + "; ";
    // The latest point some peer has not reached names the culprits.
    std::string blame;
    for (auto it = rounds_.rbegin(); it != rounds_.rend() && blame.empty();
         ++it) {
      std::string missing;
      for (std::size_t i = 0; i < (*it)->recvs.size(); ++i) {
        int done = 0;
        MPI_Test(&(*it)->recvs[i], &done, MPI_STATUS_IGNORE);
        if (!done)
          missing +=
              (missing.empty() ? "" : ", ") + std::to_string((*it)->peers[i]);
      }
      if (!missing.empty())
        blame = "rank(s) " + missing + " did not reach " + (*it)->point +
                " (dead or hung)";
    }
    if (blame.empty())
      blame = "every rank reached " +
              (rounds_.empty() ? std::string("this point")
                               : rounds_.back()->point) +
              "; one is stuck after it";
    return msg + blame +
           "; aborting the job (--collective-timeout sets the limit)";
  }

  void check(int rc, const char *call) {
    if (rc == MPI_SUCCESS)
      return;
    char text[MPI_MAX_ERROR_STRING] = {};
    int len = 0;
    MPI_Error_string(rc, text, &len);
    fail(std::string(call) + " failed: " + std::string(text, text + len));
  }

  [[noreturn]] void fail(const std::string &what) {
    abort("gpt: rank " + std::to_string(rank_) + ": " + what);
  }

  Options options_;
  MPI_Comm data_ = MPI_COMM_NULL, checkins_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, localRank_ = 0;
  bool ownsMpi_ = false;
  std::string library_;
  std::vector<Bucket> buckets_;
  /// One check-in: a message to and from every peer. Heap-allocated so
  /// that the buffers MPI writes into never move.
  struct Round {
    std::string point;
    std::vector<long long> received; // by peer
    std::vector<int> peers;
    std::vector<MPI_Request> recvs;    // per peer, in `peers` order
    std::vector<MPI_Request> requests; // the sends
  };
  std::int64_t step_ = 0;
  long long myStep_ = 0;
  std::vector<std::unique_ptr<Round>> rounds_; // this step's check-ins
};
} // namespace
} // namespace gpt::collective

extern "C" gpt::collective::Collective *
gptCreateMpiCollective(const gpt::collective::Options *options,
                       std::string *error) {
  try {
    return new gpt::collective::MpiCollective(
        options ? *options : gpt::collective::Options{});
  } catch (const std::exception &e) {
    if (error)
      *error = e.what();
    return nullptr;
  }
}
