//===- AttentionKernels.cpp - CPU kernels: attention ----------------------===//
//
// Part of the CPU executor's kernel table (KernelsInternal.h); the Vulkan
// executor's runtime/vulkan/kernels/AttentionKernels.cpp records the same
// kernels.
//
//===----------------------------------------------------------------------===//
#include "runtime/executor/KernelsInternal.h"
#include "runtime/executor/RuntimeChecks.h"

#include "runtime/cpu/Attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace gpt::exec {
namespace {

/// Causal multi-head attention of q [B, T, D] (positions start[b] + t) over
/// the paged caches. One task per (sequence, head, tile of queries); each
/// query keeps an online softmax, rescaled once per cache block.
void pagedAttention(KernelContext &c) {
  const Tensor &q = *c.in[0], &kc = *c.in[1], &vc = *c.in[2], &table = *c.in[3],
               &start = *c.in[4], &o = *c.out[0];
  int64_t N = kc.shape[0], BS = kc.shape[1], D = kc.shape[2];
  int64_t B = q.shape[0], T = q.shape[1], NB = table.shape[1];
  int64_t H = attrInt(c.kernel, "num_heads"), Dh = D / H;
  float scale = attrFloat(c.kernel, "scale");
  checkPagedPositions(table.i(), start.i(), B, T, NB, BS, N);
  const int64_t tile = 8, tiles = (T + tile - 1) / tile;
  const int32_t *tb = table.i(), *st = start.i();
  const float *qp = q.f(), *kp = kc.f(), *vp = vc.f();
  float *op = o.f();
  c.pool.parallelFor(B * H * tiles, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> acc(tile * Dh), scores(BS), m(tile), l(tile);
    for (int64_t task = t0; task < t1; ++task) {
      int64_t ti = task % tiles, h = (task / tiles) % H, b = task / (tiles * H);
      int64_t i0 = ti * tile, n = std::min(tile, T - i0);
      int64_t s0 = st[b];
      std::fill(acc.begin(), acc.begin() + n * Dh, 0.0f);
      std::fill(m.begin(), m.end(), -std::numeric_limits<float>::infinity());
      std::fill(l.begin(), l.end(), 0.0f);
      int64_t lastPos = s0 + i0 + n - 1;
      for (int64_t blk = 0; blk <= lastPos / BS; ++blk) {
        int64_t base = int64_t(tb[b * NB + blk]) * BS;
        const float *kb = kp + base * D + h * Dh, *vb = vp + base * D + h * Dh;
        for (int64_t i = 0; i < n; ++i) {
          // Keys j < rows of this block are visible to query i0 + i.
          int64_t rows = std::min(BS, s0 + i0 + i + 1 - blk * BS);
          if (rows <= 0)
            continue;
          const float *qr = qp + ((b * T + i0 + i) * D) + h * Dh;
          float mb = -std::numeric_limits<float>::infinity();
          for (int64_t j = 0; j < rows; ++j) {
            const float *kr = kb + j * D;
            float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
            for (int64_t d = 0; d < Dh; ++d)
              dot += qr[d] * kr[d];
            scores[j] = dot * scale;
            mb = std::max(mb, scores[j]);
          }
          float *a = acc.data() + i * Dh;
          if (mb > m[i]) {
            float corr = std::exp(m[i] - mb);
            l[i] *= corr;
#pragma omp simd
            for (int64_t d = 0; d < Dh; ++d)
              a[d] *= corr;
            m[i] = mb;
          }
          float sum = 0.0f;
          for (int64_t j = 0; j < rows; ++j) {
            float p = std::exp(scores[j] - m[i]);
            sum += p;
            const float *vr = vb + j * D;
#pragma omp simd
            for (int64_t d = 0; d < Dh; ++d)
              a[d] += p * vr[d];
          }
          l[i] += sum;
        }
      }
      for (int64_t i = 0; i < n; ++i) {
        float *orow = op + ((b * T + i0 + i) * D) + h * Dh;
        float inv = l[i] > 0 ? 1.0f / l[i] : 0.0f;
        for (int64_t d = 0; d < Dh; ++d)
          orow[d] = acc[i * Dh + d] * inv;
      }
    }
  });
}

/// Copies q, k, v [B, T, D] into packed qkv [B, T, 3D] (pack) or back.
void packQkv(float *qkv, const Tensor *q, const Tensor *k, const Tensor *v,
             int64_t BT, int64_t D, bool pack, ThreadPool &pool) {
  const Tensor *parts[3] = {q, k, v};
  pool.parallelFor(BT, grainFor(3 * D), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int p = 0; p < 3; ++p) {
        if (!parts[p])
          continue;
        float *packed = qkv + r * 3 * D + p * D;
        float *plain = parts[p]->f() + r * D;
        if (pack)
          std::memcpy(packed, plain, D * sizeof(float));
        else
          std::memcpy(plain, packed, D * sizeof(float));
      }
  });
}

/// Rows of one of q, k, v, o (or their gradients): row r of batch b starts
/// at data + (b * rows + r) * stride; head h at + h * Dh.
struct Rows {
  float *data;
  int64_t stride;
  float *at(int64_t b, int64_t rows, int64_t r, int64_t h, int64_t Dh) const {
    return data + (b * rows + r) * stride + h * Dh;
  }
};

struct AttentionDims {
  int64_t B, T, S, H, Dh;
  float scale;
  bool causal;
  /// Keys j < limit(i) are visible to query i.
  int64_t limit(int64_t i) const {
    return causal ? std::max<int64_t>(0, std::min(S, i + S - T + 1)) : S;
  }
};

/// Attention for the cases the flash kernel does not cover (k/v longer than
/// q, non-causal, strided operands): one (b, h, i) row per task element with
/// an online softmax; O(T * S * Dh) time, O(Dh) memory per task.
void attentionNaive(Rows q, Rows k, Rows v, Rows o, float *lse,
                    const AttentionDims &a, ThreadPool &pool) {
  const int64_t T = a.T, S = a.S, H = a.H, Dh = a.Dh;
  pool.parallelFor(a.B * H * T, grainFor(S * Dh), [&](int64_t b0, int64_t e0) {
    std::vector<float> acc(Dh);
    for (int64_t idx = b0; idx < e0; ++idx) {
      int64_t i = idx % T, h = (idx / T) % H, b = idx / (T * H);
      const float *qr = q.at(b, T, i, h, Dh);
      float m = -std::numeric_limits<float>::infinity();
      double l = 0;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t j = 0, limit = a.limit(i); j < limit; ++j) {
        const float *kr = k.at(b, S, j, h, Dh), *vr = v.at(b, S, j, h, Dh);
        float s = 0;
        for (int64_t d = 0; d < Dh; ++d)
          s += qr[d] * kr[d];
        s *= a.scale;
        if (s > m) {
          float corr = std::exp(m - s);
          l *= corr;
          for (int64_t d = 0; d < Dh; ++d)
            acc[d] *= corr;
          m = s;
        }
        float p = std::exp(s - m);
        l += p;
        for (int64_t d = 0; d < Dh; ++d)
          acc[d] += p * vr[d];
      }
      float *orow = o.at(b, T, i, h, Dh);
      float inv = l > 0 ? float(1.0 / l) : 0.0f;
      for (int64_t d = 0; d < Dh; ++d)
        orow[d] = acc[d] * inv;
      lse[(b * H + h) * T + i] = l > 0 ? m + float(std::log(l)) : m;
    }
  });
}

/// Backward of attentionNaive from the saved o and lse. Tasks: (b, h); each
/// owns its head's slices of dq, dk and dv (deterministic).
void attentionNaiveBackward(Rows dout, Rows q, Rows k, Rows v, Rows o,
                            const float *lse, Rows dq, Rows dk, Rows dv,
                            const AttentionDims &a, ThreadPool &pool) {
  const int64_t T = a.T, S = a.S, H = a.H, Dh = a.Dh;
  pool.parallelFor(a.B * H, 1, [&](int64_t b0, int64_t e0) {
    for (int64_t bh = b0; bh < e0; ++bh) {
      int64_t b = bh / H, h = bh % H;
      for (int64_t i = 0; i < T; ++i)
        std::fill(dq.at(b, T, i, h, Dh), dq.at(b, T, i, h, Dh) + Dh, 0.0f);
      for (int64_t j = 0; j < S; ++j) {
        std::fill(dk.at(b, S, j, h, Dh), dk.at(b, S, j, h, Dh) + Dh, 0.0f);
        std::fill(dv.at(b, S, j, h, Dh), dv.at(b, S, j, h, Dh) + Dh, 0.0f);
      }
      for (int64_t i = 0; i < T; ++i) {
        const float *qr = q.at(b, T, i, h, Dh), *gr = dout.at(b, T, i, h, Dh);
        const float *orow = o.at(b, T, i, h, Dh);
        float *dqr = dq.at(b, T, i, h, Dh);
        float rowLse = lse[(b * H + h) * T + i];
        float di = 0;
        for (int64_t d = 0; d < Dh; ++d)
          di += gr[d] * orow[d];
        for (int64_t j = 0, limit = a.limit(i); j < limit; ++j) {
          const float *kr = k.at(b, S, j, h, Dh), *vr = v.at(b, S, j, h, Dh);
          float s = 0, dp = 0;
          for (int64_t d = 0; d < Dh; ++d) {
            s += qr[d] * kr[d];
            dp += gr[d] * vr[d];
          }
          float p = std::exp(a.scale * s - rowLse);
          float ds = p * (dp - di) * a.scale;
          float *dkr = dk.at(b, S, j, h, Dh), *dvr = dv.at(b, S, j, h, Dh);
          for (int64_t d = 0; d < Dh; ++d) {
            dvr[d] += p * gr[d];
            dqr[d] += ds * kr[d];
            dkr[d] += ds * qr[d];
          }
        }
      }
    }
  });
}

void attention(KernelContext &c, bool packed) {
  const Tensor &q = *c.in[0];
  int64_t B = q.shape[0], T = q.shape[1];
  int64_t D = packed ? q.shape[2] / 3 : q.shape[2];
  int64_t S = packed ? T : c.in[1]->shape[1];
  AttentionDims a{B,
                  T,
                  S,
                  attrInt(c.kernel, "num_heads"),
                  0,
                  attrFloat(c.kernel, "scale"),
                  attrBool(c.kernel, "causal", true)};
  a.Dh = D / a.H;
  float *lse = c.out[1] ? c.out[1]->f() : c.scratch.get(0, B * a.H * T);
  float *o = c.out[0]->f();
  if (a.causal && S == T) { // the flash kernel
    const float *qkv = q.f();
    if (!packed) {
      float *buf = c.scratch.get(1, B * T * 3 * D);
      packQkv(buf, c.in[0], c.in[1], c.in[2], B * T, D, true, c.pool);
      qkv = buf;
    }
    cpu::attentionForward(o, lse, qkv, B, T, a.H, a.Dh, a.scale, c.pool);
    return;
  }
  if (packed)
    attentionNaive({q.f(), 3 * D}, {q.f() + D, 3 * D}, {q.f() + 2 * D, 3 * D},
                   {o, D}, lse, a, c.pool);
  else
    attentionNaive({q.f(), D}, {c.in[1]->f(), D}, {c.in[2]->f(), D}, {o, D},
                   lse, a, c.pool);
}

void attentionGrad(KernelContext &c, bool packed) {
  const Tensor &dout = *c.in[0];
  int64_t B = dout.shape[0], T = dout.shape[1], D = dout.shape[2];
  int64_t S = packed ? T : c.in[2]->shape[1];
  AttentionDims a{B,
                  T,
                  S,
                  attrInt(c.kernel, "num_heads"),
                  0,
                  attrFloat(c.kernel, "scale"),
                  attrBool(c.kernel, "causal", true)};
  a.Dh = D / a.H;
  const Tensor &o = *c.in[packed ? 2 : 4], &lse = *c.in[packed ? 3 : 5];
  if (packed) {
    float *qkv = c.in[1]->f(), *dqkv = c.out[0]->f();
    if (a.causal)
      cpu::attentionBackward(dqkv, dout.f(), qkv, o.f(), lse.f(), B, T, a.H,
                             a.Dh, a.scale, c.pool);
    else
      attentionNaiveBackward({dout.f(), D}, {qkv, 3 * D}, {qkv + D, 3 * D},
                             {qkv + 2 * D, 3 * D}, {o.f(), D}, lse.f(),
                             {dqkv, 3 * D}, {dqkv + D, 3 * D},
                             {dqkv + 2 * D, 3 * D}, a, c.pool);
    return;
  }
  if (a.causal && S == T) {
    float *qkv = c.scratch.get(1, B * T * 3 * D);
    float *dqkv = c.scratch.get(2, B * T * 3 * D);
    packQkv(qkv, c.in[1], c.in[2], c.in[3], B * T, D, true, c.pool);
    cpu::attentionBackward(dqkv, dout.f(), qkv, o.f(), lse.f(), B, T, a.H, a.Dh,
                           a.scale, c.pool);
    packQkv(dqkv, c.out[0], c.out[1], c.out[2], B * T, D, false, c.pool);
    return;
  }
  float *dq = c.out[0] ? c.out[0]->f() : c.scratch.get(3, B * T * D);
  float *dk = c.out[1] ? c.out[1]->f() : c.scratch.get(4, B * S * D);
  float *dv = c.out[2] ? c.out[2]->f() : c.scratch.get(5, B * S * D);
  attentionNaiveBackward({dout.f(), D}, {c.in[1]->f(), D}, {c.in[2]->f(), D},
                         {c.in[3]->f(), D}, {o.f(), D}, lse.f(), {dq, D},
                         {dk, D}, {dv, D}, a, c.pool);
}

/// Rotary position embedding (gpt.rope, docs/artifact.md): in each head of
/// the first `columns` columns, the pair (i, i + hd/2) of row (b, t) turns
/// by (start[b] + t) * theta^(-2i/hd). The angles' cos/sin are computed in
/// double once per position (a [T, hd/2] table when all sequences start at
/// 0), the rotation in float. In place is fine: a pair is read before it is
/// written.
void rope(KernelContext &c) {
  const Tensor &x = *c.in[0], &y = *c.out[0];
  const int32_t *start = c.in.size() > 1 && c.in[1] ? c.in[1]->i() : nullptr;
  const int64_t B = x.shape[0], T = x.shape[1], D = x.shape[2];
  const int64_t hd = attrInt(c.kernel, "head_dim"), half = hd / 2;
  const int64_t columns = attrInt(c.kernel, "columns");
  const double theta = attrFloat(c.kernel, "theta");
  const double sign = attrBool(c.kernel, "inverse") ? -1.0 : 1.0;
  for (int64_t b = 0; start && b < B; ++b)
    if (start[b] < 0)
      throw ExecutorError("rope: sequence " + std::to_string(b) +
                          " starts at " + std::to_string(start[b]) +
                          " (negative)");
  std::vector<double> invFreq(half);
  for (int64_t i = 0; i < half; ++i)
    invFreq[i] = std::pow(theta, -2.0 * double(i) / double(hd));
  auto angles = [&](int64_t pos, float *cs, float *sn) {
    for (int64_t i = 0; i < half; ++i) {
      double a = double(pos) * invFreq[i];
      cs[i] = float(std::cos(a));
      sn[i] = float(sign * std::sin(a));
    }
  };
  // Without start every sequence shares positions 0..T-1: one table.
  std::vector<float> cosT, sinT;
  if (!start) {
    cosT.resize(T * half);
    sinT.resize(T * half);
    for (int64_t t = 0; t < T; ++t)
      angles(t, &cosT[t * half], &sinT[t * half]);
  }
  const float *xp = x.f();
  float *yp = y.f();
  c.pool.parallelFor(B * T, grainFor(D), [&](int64_t r0, int64_t r1) {
    std::vector<float> rowCos(start ? half : 0), rowSin(start ? half : 0);
    for (int64_t r = r0; r < r1; ++r) {
      const float *cs, *sn;
      if (start) {
        angles(r % T + start[r / T], rowCos.data(), rowSin.data());
        cs = rowCos.data();
        sn = rowSin.data();
      } else {
        cs = &cosT[(r % T) * half];
        sn = &sinT[(r % T) * half];
      }
      const float *in = xp + r * D;
      float *out = yp + r * D;
      for (int64_t h = 0; h < columns; h += hd)
        for (int64_t i = 0; i < half; ++i) {
          float a = in[h + i], b2 = in[h + half + i];
          out[h + i] = a * cs[i] - b2 * sn[i];
          out[h + half + i] = a * sn[i] + b2 * cs[i];
        }
      if (out != in)
        std::memcpy(out + columns, in + columns,
                    size_t(D - columns) * sizeof(float));
    }
  });
}

} // namespace

void registerAttentionKernels(CpuKernelTable &table) {
  table[static_cast<size_t>(KernelId::Rope)] = [](KernelContext &c) {
    rope(c);
  };
  table[static_cast<size_t>(KernelId::PagedAttention)] = [](KernelContext &c) {
    pagedAttention(c);
  };
  table[static_cast<size_t>(KernelId::Attention)] = [](KernelContext &c) {
    attention(c, false);
  };
  table[static_cast<size_t>(KernelId::AttentionQkv)] = [](KernelContext &c) {
    attention(c, true);
  };
  table[static_cast<size_t>(KernelId::AttentionGrad)] = [](KernelContext &c) {
    attentionGrad(c, false);
  };
  table[static_cast<size_t>(KernelId::AttentionQkvGrad)] =
      [](KernelContext &c) { attentionGrad(c, true); };
}

} // namespace gpt::exec
