#version 460
#include "common.glsl"
// scaled_masked_softmax over rows of x [..., T, S]: softmax of scale * x over
// keys j < limit (causal: limit = min(S, i + S - T + 1), i = row mod T), zero
// beyond; an empty row is all zeros. One workgroup per row.
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 x;
  F32 y;
  uint rows;
  uint T;
  uint S;
  float scale;
  uint causal;
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
  uint t = gl_LocalInvocationID.x, S = p.S;
  for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
    uint base = r * S;
    int i = int(r % p.T);
    int lim = p.causal != 0 ? min(int(S), i + int(S) - int(p.T) + 1) : int(S);
    uint limit = uint(max(lim, 0));
    float m = NEG_INF, s = 0.0;
    for (uint j = t; j < limit; j += 128)
      pushOne(m, s, p.scale * p.x.v[base + j]);
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
    m = redM[0];
    float inv = redS[0] > 0.0 ? 1.0 / redS[0] : 0.0;
    barrier();
    for (uint j = t; j < S; j += 128)
      p.y.v[base + j] = j < limit ? exp(p.scale * p.x.v[base + j] - m) * inv : 0.0;
  }
}
