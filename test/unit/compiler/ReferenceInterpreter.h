//===- ReferenceInterpreter.h -----------------------------------*- C++ -*-===//
//
// A slow, naive interpreter of the gpt dialect for tests. Every op is computed
// in double from its documented semantics (docs/dialect.md and the ODS
// descriptions), independently of the gradient rules and of the kernels, so
// it can serve as the reference for gradient checks by finite differences.
//
//===----------------------------------------------------------------------===//
#ifndef GPT_TEST_UNIT_COMPILER_REFERENCEINTERPRETER_H
#define GPT_TEST_UNIT_COMPILER_REFERENCEINTERPRETER_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gpt_test {

/// A dense row-major tensor. Float tensors hold their values in double; i32
/// tensors (token ids) hold their integer values, exactly.
struct RefTensor {
  std::vector<int64_t> shape;
  std::vector<double> data;

  RefTensor() = default;
  explicit RefTensor(std::vector<int64_t> shape, double fill = 0.0);

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  int64_t size() const { return static_cast<int64_t>(data.size()); }
};

/// The number of elements of a shape.
int64_t numElements(const std::vector<int64_t> &shape);

/// Results of one evaluation, or an error naming the op at fault.
struct EvalResult {
  std::vector<RefTensor> results;
  std::string error; // empty on success
  bool ok() const { return error.empty(); }
};

/// Evaluates a single-block function on `inputs` (one per argument). Dynamic
/// dimensions take their sizes from the runtime inputs; static dimensions of
/// every value are checked against what was computed.
EvalResult evaluate(mlir::func::FuncOp fn,
                    const std::vector<RefTensor> &inputs);

} // namespace gpt_test

#endif
