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

shared float redM[128];
shared float redS[128];



void main() {
  uint t = gl_LocalInvocationID.x, S = p.S;
  for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
    uint base = r * S;
    int i = int(r % p.T);
    int lim = p.causal != 0 ? min(int(S), i + int(S) - int(p.T) + 1) : int(S);
    uint limit = uint(max(lim, 0));
    float m = NEG_BIG, s = 0.0;
    for (uint j = t; j < limit; j += 128)
      osmPush(m, s, p.scale * p.x.v[base + j]);
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
    for (uint j = t; j < S; j += 128)
      p.y.v[base + j] =
          j < limit ? osmProb(p.scale * p.x.v[base + j], m, inv) : 0.0;
  }
}
