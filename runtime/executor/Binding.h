//===- Binding.h - Binding a call's inputs to a function ------------------===//
//
// Shared by the executors: matches the caller's tensors to a function's
// inputs by name, checks dtypes and shapes, and derives the symbolic dims
// B, T (from "tokens" first) and N (the KV pool). Errors name the input.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/executor/Executor.h"

#include <map>
#include <string>
#include <vector>

namespace gpt {

struct CallBinding {
  std::vector<const TensorView *> views; ///< per function input
  int64_t B = 1, T = 1, N = -1;
};

/// Throws ExecutorError prefixed with "function 'name': ".
CallBinding bindCall(const Function &f,
                     const std::map<std::string, TensorView> &inputs);

/// Concrete shapes of every value at (B, T, N), each kernel's operand shapes
/// checked against its contract. Throws ExecutorError.
std::vector<std::vector<int64_t>> bindValueShapes(const Function &f, int64_t B,
                                                  int64_t T, int64_t N);

/// value id -> id of its non-alias root.
std::vector<int64_t> aliasRoots(const Function &f);

/// For each kernel, whether it reads or writes bytes that an all_reduce
/// before it (and after the previous such kernel) reduces: the executor
/// finishes the reductions first.
std::vector<bool> reductionBarriers(const Function &f);

/// The function named `name`, or ExecutorError listing what there is.
const Function &findFunctionOrThrow(const Artifact &a, const std::string &name);

} // namespace gpt
