#version 460
#include "common.glsl"
// softmax over contiguous rows (axis is the last, or only 1s after it): one
// workgroup per row; each thread keeps an online (max, sum of exp) pair, the
// pairs are merged by a fixed shared-memory tree.
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 x;
  F32 y;
  uint rows;
  uint len;
} p;

#define NEG_INF uintBitsToFloat(0xff800000u)
shared float redM[128];
shared float redS[128];

// Adds element x to (m, s); -inf adds nothing (and never meets -inf - -inf).
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
  uint t = gl_LocalInvocationID.x, len = p.len;
  for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
    uint base = r * len;
    float m = NEG_INF, s = 0.0;
    for (uint j = t; j < len; j += 128)
      pushOne(m, s, p.x.v[base + j]);
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
    float inv = 1.0 / redS[0];
    barrier();
    for (uint j = t; j < len; j += 128)
      p.y.v[base + j] = exp(p.x.v[base + j] - m) * inv;
  }
}
