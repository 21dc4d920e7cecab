#version 460
#include "common.glsl"
// adamw: bias-corrected AdamW with t = step + 1 (step an i32); gradient scaled by
// min(1, clip / (norm + 1e-6)) when a norm is given and clip > 0; weight
// decay when flags & 2. Reads p, m, v and writes po, mo, vo at the same
// index, so it is both in place and the "copy first" form when the outputs
// are other buffers. hp = [lr, min_lr, warmup, total, beta1, beta2, eps,
// weight_decay, grad_clip].
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 p;
  F32 g;
  F32 m;
  F32 v;
  F32 lr;
  F32 norm;
  I32 step;
  F32 hp;
  F32 po;
  F32 mo;
  F32 vo;
  uint n;
  uint flags; // 1: norm given, 2: decay
} p;

// 1 - b^t for b in [0, 1) without the cancellation of 1 - pow(b, t) (b2 =
// 0.999 would lose 3 digits): -expm1(t * log(b)), log1p and expm1 by series.
float oneMinusPow(float b, float t) {
  if (b <= 0.0)
    return 1.0;
  float l;
  if (b >= 0.5) {
    // log(b) = log1p(-d) = 2 atanh(z), z = -d / (2 - d), |z| <= 1/3.
    float d = 1.0 - b;
    float z = -d / (2.0 - d), z2 = z * z, sum = 0.0;
    for (int k = 21; k >= 1; k -= 2)
      sum = 1.0 / float(k) + z2 * sum;
    l = 2.0 * z * sum;
  } else {
    l = log(b); // |log b| >= 0.69: 3 ulp accuracy is enough
  }
  float x = t * l;
  if (x > -0.5) {
    float e = 0.0; // expm1(x) = x (1 + x/2 (1 + x/3 (...)))
    for (int k = 14; k >= 2; --k)
      e = x / float(k) * (1.0 + e);
    return -(x * (1.0 + e));
  }
  return 1.0 - exp(x);
}

void main() {
  float b1 = p.hp.v[4], b2 = p.hp.v[5], eps = p.hp.v[6];
  float wd = (p.flags & 2u) != 0 ? p.hp.v[7] : 0.0;
  float t = float(max(p.step.v[0], 0)) + 1.0;
  float corr1 = 1.0 / oneMinusPow(b1, t), corr2 = 1.0 / oneMinusPow(b2, t);
  float lr = p.lr.v[0];
  float gs = 1.0;
  if ((p.flags & 1u) != 0) {
    float norm = p.norm.v[0], clip = p.hp.v[8];
    if (clip > 0.0 && norm > clip)
      gs = clip / (norm + 1e-6);
  }
  GRID_STRIDE(i, p.n) {
    float g = gs * p.g.v[i];
    float mi = b1 * p.m.v[i] + (1.0 - b1) * g;
    float vi = b2 * p.v.v[i] + (1.0 - b2) * g * g;
    float pi = p.p.v[i];
    p.mo.v[i] = mi;
    p.vo.v[i] = vi;
    float mhat = mi * corr1, vhat = vi * corr2;
    p.po.v[i] = pi - lr * (mhat / (sqrt(vhat) + eps) + wd * pi);
  }
}
