#version 460
#include "common.glsl"
// cross_entropy pass 1, one workgroup per row of logits [N, V] (V may be
// 50257: each thread walks the row with an online max/sum-of-exp pair):
//   stats[r] = (lse, w * (lse - logit[t]), w)
// with w = weight (1 without weights) and 0 for an ignored (negative) target.
// A target >= V (checked on the host when it can see the targets) is
// treated as ignored here so nothing is read out of bounds.
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 logits;
  I32 targets;
  F32 weights;
  F32 stats; // [N][4]
  uint rows;
  uint V;
  uint hasWeights;
  uint pad;
} p;

#define NEG_INF uintBitsToFloat(0xff800000u)
shared float redM[128];
shared float redS[128];

void pushOne(inout float m, inout float s, float x) {
  if (x > m) {
    s = s * exp(m - x) + 1.0;
    m = x;
  } else if (x > NEG_INF) {
    s += exp(x - m);
  }
}

void merge(inout float m, inout float s, float m2, float s2) {
  float mn = max(m, m2);
  if (mn == NEG_INF)
    return;
  s = s * exp(m - mn) + s2 * exp(m2 - mn);
  m = mn;
}

void main() {
  uint t = gl_LocalInvocationID.x, V = p.V;
  for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
    uint base = r * V;
    float m = NEG_INF, s = 0.0;
    for (uint j = t; j < V; j += 128)
      pushOne(m, s, p.logits.v[base + j]);
    redM[t] = m;
    redS[t] = s;
    barrier();
    for (uint k = 64; k > 0; k >>= 1) {
      if (t < k) {
        float mm = redM[t], ss = redS[t];
        merge(mm, ss, redM[t + k], redS[t + k]);
        redM[t] = mm;
        redS[t] = ss;
      }
      barrier();
    }
    if (t == 0) {
      float lse = redM[0] + log(redS[0]);
      int tg = p.targets.v[r];
      bool valid = tg >= 0 && uint(tg) < V;
      float w = valid ? (p.hasWeights != 0 ? p.weights.v[r] : 1.0) : 0.0;
      float l = valid ? w * (lse - p.logits.v[base + uint(tg)]) : 0.0;
      p.stats.v[4 * r] = lse;
      p.stats.v[4 * r + 1] = l;
      p.stats.v[4 * r + 2] = w;
      p.stats.v[4 * r + 3] = 0.0;
    }
    barrier();
  }
}
