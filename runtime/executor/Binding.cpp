//===- Binding.cpp - Binding a call's inputs to a function ----------------===//
#include "runtime/executor/Binding.h"
#include "schema/KernelRegistry.h"

#include <algorithm>

namespace gpt {

const Function &findFunctionOrThrow(const Artifact &a,
                                    const std::string &name) {
  if (const Function *f = a.findFunction(name))
    return *f;
  std::string names;
  for (const Function &f : a.functions)
    names += (names.empty() ? "" : ", ") + f.name;
  throw ExecutorError("no function '" + name +
                      "' in the artifact (it has: " + names + ")");
}

std::vector<int64_t> aliasRoots(const Function &f) {
  std::vector<int64_t> root(f.values.size());
  for (size_t v = 0; v < f.values.size(); ++v) {
    int64_t r = static_cast<int64_t>(v);
    while (f.values[r].storage.kind == StorageKind::Alias)
      r = f.values[r].storage.of; // acyclic: validated
    root[v] = r;
  }
  return root;
}

CallBinding bindCall(const Function &f,
                     const std::map<std::string, TensorView> &inputs) {
  const std::string where = "function '" + f.name + "'";
  auto fail = [&](const std::string &what) {
    throw ExecutorError(where + ": " + what);
  };
  bool usesB = false, usesT = false, usesN = false;
  for (const Value &v : f.values)
    for (int64_t d : v.shape) {
      usesB = usesB || d == kDimBatch;
      usesT = usesT || d == kDimSequence;
      usesN = usesN || d == kDimPool;
    }
  for (const auto &kv : inputs)
    if (f.findInput(kv.first) < 0)
      fail("unexpected input '" + kv.first + "'");
  std::vector<const TensorView *> views(f.inputs.size());
  for (size_t i = 0; i < f.inputs.size(); ++i) {
    auto it = inputs.find(f.inputs[i].name);
    if (it == inputs.end())
      fail("missing input '" + f.inputs[i].name + "'");
    views[i] = &it->second;
  }
  std::vector<size_t> order;
  int64_t tokens = f.findInput("tokens");
  if (tokens >= 0)
    order.push_back(static_cast<size_t>(tokens));
  for (size_t i = 0; i < f.inputs.size(); ++i)
    if (int64_t(i) != tokens)
      order.push_back(i);
  int64_t B = -1, T = -1, N = -1;
  std::string bFrom, tFrom, nFrom;
  for (size_t i : order) {
    const FunctionInput &in = f.inputs[i];
    const Value &value = f.values[in.value];
    const TensorView &view = *views[i];
    std::string name = "input '" + in.name + "'";
    if (view.dtype != value.dtype)
      fail(name + ": dtype " + dtypeName(view.dtype) + ", expected " +
           dtypeName(value.dtype));
    if (view.shape.size() != value.shape.size())
      fail(name + ": shape " + shapeStr(view.shape) + " has rank " +
           std::to_string(view.shape.size()) + ", expected " +
           shapeStr(value.shape));
    for (size_t d = 0; d < view.shape.size(); ++d) {
      int64_t want = value.shape[d], got = view.shape[d];
      std::string dim = name + ": dim " + std::to_string(d) + " of shape " +
                        shapeStr(view.shape);
      if (got < 0)
        fail(dim + " is negative");
      if (want == kDimPool) {
        if (got < 1)
          fail(dim + ": the KV pool size N must be >= 1");
        if (N < 0) {
          N = got;
          nFrom = in.name;
        } else if (N != got) {
          fail(dim + " is " + std::to_string(got) + " but N = " +
               std::to_string(N) + " (from input '" + nFrom + "')");
        }
      } else if (want == kDimBatch || want == kDimSequence) {
        bool batch = want == kDimBatch;
        int64_t &sym = batch ? B : T;
        std::string &from = batch ? bFrom : tFrom;
        if (got < 1)
          fail(dim + ": " + (batch ? "B" : "T") + " must be >= 1");
        if (sym < 0) {
          sym = got;
          from = in.name;
        } else if (sym != got) {
          fail(dim + " is " + std::to_string(got) + " but " +
               (batch ? "B" : "T") + " = " + std::to_string(sym) +
               " (from input '" + from + "')");
        }
      } else if (got != want) {
        fail(dim + " is " + std::to_string(got) + ", expected " +
             std::to_string(want) + " (declared " + shapeStr(value.shape) +
             ")");
      }
    }
    if (!view.data) {
      int64_t n = 1;
      for (int64_t d : view.shape)
        n *= d;
      if (n > 0)
        fail(name + ": data pointer is null");
    }
  }
  if (usesB && B < 0)
    fail("no input binds the batch size B (-1 dims)");
  if (usesT && T < 0)
    fail("no input binds the sequence length T (-2 dims)");
  if (usesN && N < 0)
    fail("no input binds the KV pool size N (-3 dims)");
  if (B < 0)
    B = 1;
  if (T < 0)
    T = 1;

  CallBinding b;
  b.views = std::move(views);
  b.B = B;
  b.T = T;
  b.N = N;
  return b;
}

std::vector<std::vector<int64_t>> bindValueShapes(const Function &f, int64_t B,
                                                  int64_t T, int64_t N) {
  const std::string where = "function '" + f.name + "'";
  auto fail = [&](const std::string &what) {
    throw ExecutorError(where + ": " + what);
  };
  if (B > (int64_t(1) << 40) / T)
    fail("B * T = " + std::to_string(B) + " * " + std::to_string(T) +
         " is too large");
  std::vector<std::vector<int64_t>> shapes(f.values.size());
  for (size_t v = 0; v < f.values.size(); ++v) {
    try {
      shapes[v] = bindShape(f.values[v].shape, B, T, N);
    } catch (const ArtifactError &e) {
      fail("values[" + std::to_string(v) + "]: " + e.what());
    }
  }
  for (size_t k = 0; k < f.kernels.size(); ++k) {
    std::string err = checkKernelShapes(f, f.kernels[k], shapes);
    if (!err.empty())
      fail("kernels[" + std::to_string(k) + "] (" + f.kernels[k].kernel +
           ") at B = " + std::to_string(B) + ", T = " + std::to_string(T) +
           ": " + err);
  }
  return shapes;
}

std::vector<bool> reductionBarriers(const Function &f) {
  const std::vector<int64_t> root = aliasRoots(f);
  const std::string allReduce = kernelName(KernelId::AllReduce);
  std::vector<bool> wait(f.kernels.size(), false);
  std::vector<int64_t> reducing; // roots of pending all_reduce outputs
  for (size_t k = 0; k < f.kernels.size(); ++k) {
    const Kernel &kernel = f.kernels[k];
    if (kernel.kernel == allReduce) {
      for (int64_t id : kernel.outputs)
        reducing.push_back(root[id]);
      continue;
    }
    bool touches = false;
    for (const auto *ids : {&kernel.inputs, &kernel.outputs})
      for (int64_t id : *ids)
        touches =
            touches || (id >= 0 && std::find(reducing.begin(), reducing.end(),
                                             root[id]) != reducing.end());
    if (touches) {
      wait[k] = true;
      reducing.clear();
    }
  }
  return wait;
}

} // namespace gpt
