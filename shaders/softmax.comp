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

shared float redM[128];
shared float redS[128];

void main() {
  uint t = gl_LocalInvocationID.x, len = p.len;
  for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
    uint base = r * len;
    float m = NEG_BIG, s = 0.0;
    for (uint j = t; j < len; j += 128)
      osmPush(m, s, p.x.v[base + j]);
    redM[t] = m;
    redS[t] = s;
    barrier();
    for (uint k = 64; k > 0; k >>= 1) {
      if (t < k) {
        float mm = redM[t], ss = redS[t];
        osmMerge(mm, ss, redM[t + k], redS[t + k]);
        redM[t] = mm;
        redS[t] = ss;
      }
      barrier();
    }
    m = redM[0];
    float inv = m <= NEG_HALF ? 0.0 : 1.0 / redS[0]; // empty row: zeros
    barrier();
    for (uint j = t; j < len; j += 128)
      p.y.v[base + j] = osmProb(p.x.v[base + j], m, inv);
  }
}
