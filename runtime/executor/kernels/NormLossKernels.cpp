//===- NormLossKernels.cpp - CPU kernels: norms, softmax, loss ------------===//
//
// Part of the CPU executor's kernel table (KernelsInternal.h); the Vulkan
// executor's runtime/vulkan/kernels/NormLossKernels.cpp records the same
// kernels.
//
//===----------------------------------------------------------------------===//
#include "runtime/executor/KernelsInternal.h"

#include "runtime/cpu/LayerNorm.h"
#include "runtime/cpu/Softmax.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace gpt::exec {
namespace {

void layernorm(KernelContext &c) {
  const Tensor &x = *c.in[0], &y = *c.out[0];
  int64_t D = x.last(), rows = x.rows();
  float *mean = c.scratch.get(0, rows), *rstd = c.scratch.get(1, rows);
  cpu::layernormForward(y.f(), mean, rstd, x.f(), c.in[1]->f(),
                        c.in[2] ? c.in[2]->f() : nullptr, rows, D,
                        attrFloat(c.kernel, "epsilon"), c.pool);
}

void layernormGrad(KernelContext &c) {
  const Tensor &dy = *c.in[0], &x = *c.in[1], &gamma = *c.in[2];
  int64_t D = x.last(), rows = x.rows();
  float eps = attrFloat(c.kernel, "epsilon");
  float *mean = c.scratch.get(0, rows), *rstd = c.scratch.get(1, rows);
  const float *xp = x.f();
  c.pool.parallelFor(rows, grainFor(D), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float *row = xp + r * D;
      double s = 0;
      for (int64_t j = 0; j < D; ++j)
        s += row[j];
      double m = D ? s / D : 0.0, v = 0;
      for (int64_t j = 0; j < D; ++j)
        v += (row[j] - m) * (row[j] - m);
      v = D ? v / D : 0.0;
      mean[r] = static_cast<float>(m);
      rstd[r] = static_cast<float>(1.0 / std::sqrt(v + eps));
    }
  });
  float *dgamma = c.out[1] ? c.out[1]->f() : c.scratch.get(2, D);
  float *dbeta = c.out[2] ? c.out[2]->f() : nullptr;
  cpu::layernormBackward(c.out[0]->f(), dgamma, dbeta, dy.f(), xp, gamma.f(),
                         mean, rstd, rows, D, false, c.pool);
}

void softmax(KernelContext &c, bool grad) {
  const Tensor &x = *c.in[0], &y = *c.out[0];
  int64_t axis = normAxis(attrInt(c.kernel, "axis"), x.shape.size());
  int64_t outer, len, inner;
  aroundAxis(x.shape, axis, outer, len, inner);
  if (inner == 1) {
    if (grad)
      cpu::softmaxBackward(y.f(), x.f(), c.in[1]->f(), outer, len, c.pool);
    else
      cpu::softmaxForward(y.f(), x.f(), outer, len, c.pool);
    return;
  }
  // Strided: one (outer, inner) line per task element.
  const float *xp = x.f(), *yp = grad ? c.in[1]->f() : nullptr;
  float *op = y.f();
  c.pool.parallelFor(outer * inner, grainFor(len), [&](int64_t b, int64_t e) {
    for (int64_t l = b; l < e; ++l) {
      int64_t base = (l / inner) * len * inner + l % inner;
      if (grad) {
        double dot = 0;
        for (int64_t j = 0; j < len; ++j)
          dot += double(xp[base + j * inner]) * yp[base + j * inner];
        for (int64_t j = 0; j < len; ++j) {
          int64_t at = base + j * inner;
          op[at] = yp[at] * (xp[at] - float(dot));
        }
      } else {
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < len; ++j)
          m = std::max(m, xp[base + j * inner]);
        double s = 0;
        for (int64_t j = 0; j < len; ++j) {
          int64_t at = base + j * inner;
          float ex = std::exp(xp[at] - m);
          op[at] = ex;
          s += ex;
        }
        float inv = float(1.0 / s);
        for (int64_t j = 0; j < len; ++j)
          op[base + j * inner] *= inv;
      }
    }
  });
}

/// scaled_masked_softmax (softmax=true) and causal_mask (softmax=false).
void maskedRows(KernelContext &c, bool softmax) {
  const Tensor &x = *c.in[0], &y = *c.out[0];
  size_t rank = x.shape.size();
  int64_t T = x.shape[rank - 2], S = x.shape[rank - 1];
  int64_t rows = x.numel / std::max<int64_t>(S, 1);
  bool causal = softmax ? attrBool(c.kernel, "causal") : true;
  float scale = softmax ? attrFloat(c.kernel, "scale") : 1.0f;
  float fill = softmax ? 0.0f : attrFloat(c.kernel, "fill");
  const float *xp = x.f();
  float *yp = y.f();
  c.pool.parallelFor(rows, grainFor(S), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t i = r % T;
      int64_t limit = causal ? std::min(S, i + S - T + 1) : S; // j < limit
      limit = std::max<int64_t>(limit, 0);
      const float *in = xp + r * S;
      float *out = yp + r * S;
      if (!softmax) {
        for (int64_t j = 0; j < S; ++j)
          out[j] = j < limit ? in[j] : fill;
        continue;
      }
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < limit; ++j)
        m = std::max(m, scale * in[j]);
      double s = 0;
      for (int64_t j = 0; j < limit; ++j) {
        float ex = std::exp(scale * in[j] - m);
        out[j] = ex;
        s += ex;
      }
      float inv = s > 0 ? float(1.0 / s) : 0.0f;
      for (int64_t j = 0; j < limit; ++j)
        out[j] *= inv;
      for (int64_t j = limit; j < S; ++j)
        out[j] = 0.0f;
    }
  });
}

void crossEntropy(KernelContext &c, bool grad) {
  size_t base = grad ? 1 : 0;
  const Tensor &logits = *c.in[base], &targets = *c.in[base + 1];
  const float *weights = c.in[base + 2] ? c.in[base + 2]->f() : nullptr;
  int64_t V = logits.last(), N = logits.rows();
  float *lse = c.scratch.get(0, N);
  float loss = cpu::crossEntropyForward(nullptr, lse, logits.f(), targets.i(),
                                        weights, N, V, c.pool);
  if (!grad) {
    c.out[0]->f()[0] = loss;
    return;
  }
  cpu::crossEntropyBackward(c.out[0]->f(), logits.f(), lse, targets.i(),
                            weights, N, V, c.in[0]->f()[0], c.pool);
}

} // namespace

void registerNormLossKernels(CpuKernelTable &table) {
  table[static_cast<size_t>(KernelId::Layernorm)] = [](KernelContext &c) {
    layernorm(c);
  };
  table[static_cast<size_t>(KernelId::LayernormGrad)] = [](KernelContext &c) {
    layernormGrad(c);
  };
  table[static_cast<size_t>(KernelId::Softmax)] = [](KernelContext &c) {
    softmax(c, false);
  };
  table[static_cast<size_t>(KernelId::SoftmaxGrad)] = [](KernelContext &c) {
    softmax(c, true);
  };
  table[static_cast<size_t>(KernelId::ScaledMaskedSoftmax)] =
      [](KernelContext &c) { maskedRows(c, true); };
  table[static_cast<size_t>(KernelId::CausalMask)] = [](KernelContext &c) {
    maskedRows(c, false);
  };
  table[static_cast<size_t>(KernelId::CrossEntropy)] = [](KernelContext &c) {
    crossEntropy(c, false);
  };
  table[static_cast<size_t>(KernelId::CrossEntropyGrad)] =
      [](KernelContext &c) { crossEntropy(c, true); };
}

} // namespace gpt::exec
