//===- Collective.h - Communication between the ranks of a job --*- C++ -*-===//
//
// The process group a data-parallel run reduces its gradients over
// (docs/distributed.md). The executors run the artifact's all_reduce kernels
// through it; the trainer reduces its loss and checks in each step. Two
// implementations: SingleProcess (world size 1, every call is the identity)
// and the MPI one in the gpt_mpi plugin (MpiCollective.cpp), which
// fromEnvironment() loads only when the process was started by mpirun, so
// that gpt runs where Open MPI is not installed.
//
// Every wait is bounded: a peer that died or hangs makes the call fail
// within the timeout, naming the ranks that did not reach the step, and the
// whole job is aborted rather than left hanging.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace gpt::collective {

/// How the ranks' values are combined (the artifact's "reduction").
enum class Reduction { Sum, Mean };
/// "sum" | "mean"; throws CollectiveError on anything else.
Reduction reductionByName(const std::string &name);

class CollectiveError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// f32 values reduced in place.
struct Span {
  float *data = nullptr;
  std::size_t count = 0;
};

struct Options {
  /// Longest wait of any collective call, in seconds.
  double timeoutSeconds = 300;
};

class Collective {
public:
  virtual ~Collective() = default;

  virtual int rank() const = 0;
  virtual int worldSize() const = 0;
  /// The rank among the processes of this host (a Vulkan device index).
  virtual int localRank() const = 0;
  /// "single process" or "MPI (Open MPI ...), N ranks".
  virtual std::string description() const = 0;

  /// Starts reducing `spans` (one bucket) in place over every rank. Their
  /// bytes must not be read or written until waitAll() returns.
  virtual void startAllReduce(const std::vector<Span> &spans,
                              Reduction reduction) = 0;
  /// Lets started reductions advance (called between kernels).
  virtual void progress() {}
  /// Finishes every started reduction.
  virtual void waitAll() = 0;
  /// Whether a started reduction has not been waited for.
  virtual bool pending() const = 0;

  /// Blocking in-place reduction of host values (losses, counts).
  virtual void allReduce(double *values, std::size_t n,
                         Reduction reduction) = 0;
  /// Copies `bytes` at `data` from rank `root` to every rank.
  virtual void broadcast(void *data, std::size_t bytes, int root) = 0;
  virtual void barrier() = 0;
  /// Announces that this rank starts training step `step`, so that a timeout
  /// can name the ranks that never got there.
  virtual void beginStep(std::int64_t step) { (void)step; }
  /// Ends the whole job after an error on this rank (prints `why` first).
  [[noreturn]] virtual void abort(const std::string &why) = 0;
};

/// World size 1: reductions are the identity.
class SingleProcess : public Collective {
public:
  int rank() const override { return 0; }
  int worldSize() const override { return 1; }
  int localRank() const override { return 0; }
  std::string description() const override { return "single process"; }
  void startAllReduce(const std::vector<Span> &, Reduction) override {}
  void waitAll() override {}
  bool pending() const override { return false; }
  void allReduce(double *, std::size_t, Reduction) override {}
  void broadcast(void *, std::size_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(const std::string &why) override;
};

/// Whether this process was started by an MPI launcher (mpirun, srun):
/// its environment names a rank.
bool launchedByMpi();

/// The process group of this process: the MPI job's world when
/// launchedByMpi() (the gpt_mpi plugin is loaded from next to `selfExe`, or
/// $GPT_MPI_PLUGIN), else a SingleProcess. Throws CollectiveError when MPI
/// launched the process but the plugin cannot be loaded.
std::unique_ptr<Collective> fromEnvironment(const std::string &selfExe,
                                            const Options &options = {});

/// The plugin's entry point (extern "C", see MpiCollective.cpp).
using CreateFn = Collective *(*)(const Options *options, std::string *error);
inline constexpr const char *kPluginEntry = "gptCreateMpiCollective";
inline constexpr const char *kPluginFile = "libgpt_mpi.so";

} // namespace gpt::collective
