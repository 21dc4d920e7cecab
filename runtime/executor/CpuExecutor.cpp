//===- CpuExecutor.cpp - Binding, arenas and the kernel loop --------------===//
#include "runtime/executor/CpuExecutor.h"
#include "runtime/executor/Binding.h"
#include "runtime/executor/KernelsInternal.h"

#include "runtime/collective/Collective.h"
#include "runtime/cpu/Isa.h"
#include "runtime/cpu/ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>
#include <sstream>

namespace gpt {
namespace {

/// A 64-byte aligned, uninitialized byte buffer.
class AlignedBuffer {
public:
  AlignedBuffer() = default;
  ~AlignedBuffer() { release(); }
  AlignedBuffer(const AlignedBuffer &) = delete;
  AlignedBuffer &operator=(const AlignedBuffer &) = delete;

  /// Reallocates to exactly `bytes` (contents are not kept).
  void allocate(size_t bytes, const std::string &what) {
    release();
    if (bytes == 0)
      return;
    data_ = static_cast<char *>(
        ::operator new(bytes, std::align_val_t(64), std::nothrow));
    if (!data_)
      throw ExecutorError("cannot allocate " + std::to_string(bytes) +
                          " bytes for the " + what);
    size_ = bytes;
  }
  char *data() const { return data_; }
  size_t size() const { return size_; }

private:
  void release() {
    if (data_)
      ::operator delete(data_, std::align_val_t(64));
    data_ = nullptr;
    size_ = 0;
  }
  char *data_ = nullptr;
  size_t size_ = 0;
};

} // namespace

struct CpuExecutor::FunctionState {
  const Function *fn = nullptr;
  std::vector<int64_t> root; ///< value id -> id of its non-alias root
  bool usesB = false, usesT = false, usesN = false;
  bool staticReady = false;
  AlignedBuffer staticArena, tokenArena;
  int tokenAllocations = 0;
  int64_t B = -1, T = -1, N = -1; ///< binding whose shapes were checked last
  std::vector<std::vector<int64_t>> shapes;
  std::vector<exec::Tensor> tensors;
  /// The CPU function of each kernel, resolved once at load.
  std::vector<exec::KernelFn> kernelFns;
  /// Kernel k touches bytes an earlier all_reduce may still be reducing:
  /// finish the reductions first.
  std::vector<bool> waitBefore;
};

struct CpuExecutor::Scratch {
  exec::Scratch scratch;
};

CpuExecutor::CpuExecutor(const Artifact &artifact, int threads)
    : artifact_(artifact), scratch_(std::make_unique<Scratch>()) {
  // The target first: a "vulkan" artifact is valid only with its shaders,
  // and "wrong target" is the useful message either way.
  if (artifact_.target != "cpu")
    throw ExecutorError("artifact target is '" + artifact_.target +
                        "', the CPU executor runs target 'cpu'");
  validateArtifact(artifact_, "artifact");
  if (threads < 0)
    throw ExecutorError("thread count must be >= 0, got " +
                        std::to_string(threads));
  if (threads > 0) {
    ownPool_ = std::make_unique<cpu::ThreadPool>(threads);
    pool_ = ownPool_.get();
  } else {
    pool_ = &cpu::ThreadPool::global();
  }
  for (const Function &f : artifact_.functions) {
    auto st = std::make_unique<FunctionState>();
    st->fn = &f;
    st->root.resize(f.values.size());
    for (size_t v = 0; v < f.values.size(); ++v) {
      int64_t r = static_cast<int64_t>(v);
      while (f.values[r].storage.kind == StorageKind::Alias)
        r = f.values[r].storage.of; // acyclic: validated
      st->root[v] = r;
      for (int64_t d : f.values[v].shape) {
        st->usesB = st->usesB || d == kDimBatch;
        st->usesT = st->usesT || d == kDimSequence;
        st->usesN = st->usesN || d == kDimPool;
      }
    }
    for (const Kernel &k : f.kernels)
      st->kernelFns.push_back(exec::resolveKernel(k.kernel));
    st->waitBefore = reductionBarriers(f);
    states_.push_back(std::move(st));
  }
}

CpuExecutor::~CpuExecutor() = default;

uint64_t CpuExecutor::kernelScratchBytes() const {
  return scratch_->scratch.bytes();
}

ArenaInfo CpuExecutor::arenaInfo(const std::string &function) const {
  for (const auto &st : states_)
    if (st->fn->name == function)
      return {st->staticArena.size(),
              st->tokenArena.size(),
              st->tokenAllocations,
              st->B,
              st->T,
              scratch_->scratch.bytes()};
  throw ExecutorError("no function '" + function + "' in the artifact");
}

std::map<std::string, HostTensor>
CpuExecutor::run(const std::string &function,
                 const std::map<std::string, TensorView> &inputs) {
  FunctionState *st = nullptr;
  for (const auto &s : states_)
    if (s->fn->name == function)
      st = s.get();
  if (!st)
    findFunctionOrThrow(artifact_, function); // throws, listing the names
  const Function &f = *st->fn;
  const std::string where = "function '" + f.name + "'";
  auto fail = [&](const std::string &what) {
    throw ExecutorError(where + ": " + what);
  };
  CallBinding call = bindCall(f, inputs);
  const std::vector<const TensorView *> &views = call.views;
  const int64_t B = call.B, T = call.T, N = call.N;

  // --- Shapes and arenas for this binding. ---------------------------------
  if (!st->staticReady) {
    st->staticArena.allocate(static_cast<size_t>(f.staticBytes),
                             where + " static arena");
    st->staticReady = true;
  }
  if (st->B != B || st->T != T || st->N != N) {
    st->B = st->T = st->N = -1;
    if (B > (int64_t(1) << 40) / T)
      fail("B * T = " + std::to_string(B) + " * " + std::to_string(T) +
           " is too large");
    int64_t bt = B * T;
    if (f.tokenBytes && bt > (int64_t(1) << 46) / f.tokenBytes)
      fail("token arena of " + std::to_string(f.tokenBytes) + " * " +
           std::to_string(bt) + " bytes is too large");
    size_t tokenBytes = static_cast<size_t>(f.tokenBytes * bt);
    if (tokenBytes > st->tokenArena.size()) {
      st->tokenArena.allocate(tokenBytes, where + " token arena");
      ++st->tokenAllocations;
    }
    st->shapes = bindValueShapes(f, B, T, N);
    st->tensors.resize(f.values.size());
    for (size_t v = 0; v < f.values.size(); ++v) {
      exec::Tensor &t = st->tensors[v];
      t.dtype = f.values[v].dtype;
      t.shape = st->shapes[v];
      t.numel = numElements(t.shape);
    }
    st->B = B;
    st->T = T;
    st->N = N;
  }
  // Pointers (the caller's buffers change from call to call).
  for (size_t v = 0; v < f.values.size(); ++v) {
    const Storage &s = f.values[st->root[v]].storage;
    void *p = nullptr;
    switch (s.kind) {
    case StorageKind::Input:
      p = views[s.index]->data;
      break;
    case StorageKind::StaticArena:
      p = st->staticArena.data() + s.offset;
      break;
    case StorageKind::TokenArena:
      p = st->tokenArena.data() + s.offset * B * T;
      break;
    case StorageKind::Alias:
      break; // unreachable: roots are not aliases
    }
    st->tensors[v].data = p;
  }

  // --- Run. ------------------------------------------------------------------
  exec::Scratch &scratch = scratch_->scratch;
  collective::Collective *group = activeCollective();
  for (size_t k = 0; k < f.kernels.size(); ++k) {
    const Kernel &kernel = f.kernels[k];
    if (group && group->pending()) {
      if (st->waitBefore[k])
        group->waitAll();
      else
        group->progress();
    }
    exec::KernelContext ctx{kernel, {}, {}, *pool_, scratch, group};
    for (int64_t id : kernel.inputs)
      ctx.in.push_back(id < 0 ? nullptr : &st->tensors[id]);
    for (int64_t id : kernel.outputs)
      ctx.out.push_back(id < 0 ? nullptr : &st->tensors[id]);
    try {
      if (profiling_) {
        auto t0 = std::chrono::steady_clock::now();
        st->kernelFns[k](ctx);
        std::chrono::duration<double> dt =
            std::chrono::steady_clock::now() - t0;
        KernelTime &kt = profile_[kernel.kernel];
        kt.seconds += dt.count();
        ++kt.calls;
      } else {
        st->kernelFns[k](ctx);
      }
    } catch (const std::exception &e) {
      std::string at = where + ": kernels[" + std::to_string(k) + "] (" +
                       kernel.kernel +
                       (kernel.loc.empty() ? "" : " at " + kernel.loc) + ")";
      throw ExecutorError(at + ": " + e.what());
    }
  }

  if (group)
    group->waitAll(); // the reduced values are outputs

  // --- Outputs. --------------------------------------------------------------
  std::map<std::string, HostTensor> result;
  for (const FunctionOutput &o : f.outputs) {
    const exec::Tensor &t = st->tensors[o.value];
    size_t bytes = static_cast<size_t>(t.numel) * 4;
    if (o.aliasInput >= 0) {
      void *dst = views[o.aliasInput]->data;
      if (dst != t.data && bytes)
        std::memmove(dst, t.data, bytes);
      continue;
    }
    HostTensor h;
    h.dtype = t.dtype;
    h.shape = t.shape;
    if (t.dtype == DType::F32) {
      h.f32.resize(t.numel);
      if (bytes)
        std::memcpy(h.f32.data(), t.data, bytes);
    } else {
      h.i32.resize(t.numel);
      if (bytes)
        std::memcpy(h.i32.data(), t.data, bytes);
    }
    result.emplace(o.name, std::move(h));
  }
  return result;
}

} // namespace gpt

namespace gpt {
std::string CpuExecutor::deviceDescription() const {
  return std::string("CPU (") + cpu::isaName(cpu::activeIsa()) + ", " +
         std::to_string(pool_->numThreads()) + " threads)";
}
} // namespace gpt
