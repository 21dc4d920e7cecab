//===- Elementwise.cpp - Interpreter of `elementwise` row programs --------===//
//
// The output shape [..., D] is processed row by row; each instruction runs
// over a whole row in a tight loop the compiler vectorizes, rows are split
// over the thread pool. Input registers point straight into their tensors
// (row r mod their row count: broadcasting); instruction results live in a
// per-task scratch of one row per instruction. Outputs are copied out after
// the whole row is computed, so an output may share its buffer with an
// input of the same shape (in-place updates).
//
//===----------------------------------------------------------------------===//
#include "runtime/executor/KernelsInternal.h"

#include "runtime/cpu/VecMath.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace gpt::exec {
namespace {

constexpr float kGeluC = 0.7978845608028654f; // sqrt(2/pi)
constexpr float kGeluA = 0.044715f;

void geluRow(float *o, const float *x, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    float v = x[j];
    float t = cpu::tanhApprox(kGeluC * (v + kGeluA * v * v * v));
    o[j] = 0.5f * v * (1.0f + t);
  }
}

void geluGradRow(float *o, const float *dy, const float *x, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    float v = x[j];
    float t = cpu::tanhApprox(kGeluC * (v + kGeluA * v * v * v));
    float dt = kGeluC * (1.0f + 3.0f * kGeluA * v * v);
    o[j] = dy[j] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * dt);
  }
}

void layernormRow(float *o, const float *x, const float *g, const float *b,
                  float eps, int64_t n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j)
    sum += x[j];
  float mean = sum / static_cast<float>(n);
  float var = 0.0f;
#pragma omp simd reduction(+ : var)
  for (int64_t j = 0; j < n; ++j)
    var += (x[j] - mean) * (x[j] - mean);
  float rstd = 1.0f / std::sqrt(var / static_cast<float>(n) + eps);
#pragma omp simd
  for (int64_t j = 0; j < n; ++j)
    o[j] = (x[j] - mean) * rstd * g[j] + b[j];
}

} // namespace

/// The `elementwise` row-program interpreter.
static void runElementwise(KernelContext &c) {
  const EwProgram &prog = c.kernel.program;
  const Tensor &first = *c.out[0];
  const int64_t D = first.shape.empty() ? 1 : first.shape.back();
  if (D <= 0 || first.numel == 0)
    return;
  const int64_t rows = first.numel / D;
  const size_t nIn = c.in.size(), nIns = prog.instructions.size();

  // Input registers: base pointer, row count (r mod rows), scalar flag.
  struct InReg {
    const float *data;
    int64_t rows;
    bool scalar;
  };
  std::vector<InReg> inRegs(nIn);
  size_t nScalars = 0;
  for (size_t i = 0; i < nIn; ++i) {
    const Tensor &t = *c.in[i];
    bool scalar = t.shape.empty() && D != 1;
    inRegs[i] = {t.f(), scalar ? 1 : std::max<int64_t>(1, t.numel / D), scalar};
    nScalars += scalar;
  }

  c.pool.parallelFor(
      rows, std::max<int64_t>(1, 8192 / D), [&](int64_t b, int64_t e) {
        // Scratch: one row per instruction, then one per scalar input.
        std::vector<float> buf((nIns + nScalars) * D);
        std::vector<const float *> reg(nIn + nIns);
        float *scalarRows = buf.data() + nIns * D;
        std::vector<float *> scalarRow(nIn, nullptr);
        for (size_t i = 0, s = 0; i < nIn; ++i)
          if (inRegs[i].scalar) {
            scalarRow[i] = scalarRows + (s++) * D;
            std::fill(scalarRow[i], scalarRow[i] + D, inRegs[i].data[0]);
          }
        for (size_t k = 0; k < nIns; ++k)
          reg[nIn + k] = buf.data() + k * D;
        for (int64_t r = b; r < e; ++r) {
          for (size_t i = 0; i < nIn; ++i)
            reg[i] = inRegs[i].scalar
                         ? scalarRow[i]
                         : inRegs[i].data + (r % inRegs[i].rows) * D;
          for (size_t k = 0; k < nIns; ++k) {
            const EwInstruction &ins = prog.instructions[k];
            float *o = buf.data() + k * D;
            const float *a = reg[ins.args[0]];
            const float *bb = ins.args.size() > 1 ? reg[ins.args[1]] : nullptr;
            switch (ins.op) {
            case EwOp::Add:
#pragma omp simd
              for (int64_t j = 0; j < D; ++j)
                o[j] = a[j] + bb[j];
              break;
            case EwOp::Sub:
#pragma omp simd
              for (int64_t j = 0; j < D; ++j)
                o[j] = a[j] - bb[j];
              break;
            case EwOp::Mul:
#pragma omp simd
              for (int64_t j = 0; j < D; ++j)
                o[j] = a[j] * bb[j];
              break;
            case EwOp::Scale: {
              float f = ins.param;
#pragma omp simd
              for (int64_t j = 0; j < D; ++j)
                o[j] = a[j] * f;
              break;
            }
            case EwOp::Neg:
#pragma omp simd
              for (int64_t j = 0; j < D; ++j)
                o[j] = -a[j];
              break;
            case EwOp::Gelu:
              geluRow(o, a, D);
              break;
            case EwOp::GeluGrad:
              geluGradRow(o, a, bb, D);
              break;
            case EwOp::LayerNorm:
              layernormRow(o, a, bb, reg[ins.args[2]], ins.param, D);
              break;
            }
          }
          for (size_t i = 0; i < c.out.size(); ++i)
            std::memmove(c.out[i]->f() + r * D, reg[prog.outputs[i]],
                         D * sizeof(float));
        }
      });
}

void registerElementwiseKernel(CpuKernelTable &table) {
  table[static_cast<size_t>(KernelId::Elementwise)] = runElementwise;
}

} // namespace gpt::exec
