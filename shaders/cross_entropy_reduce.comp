#version 460
#include "common.glsl"
// cross_entropy pass 2, one workgroup: sums the rows' weighted losses and
// weights in a fixed order (strided per thread, then a tree). grad == 0:
// out[0] = loss = sum(l) / sum(w) (0 when sum(w) = 0); grad != 0:
// out[0] = dloss / sum(w) (0 when sum(w) = 0), the factor of pass 3.
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 stats; // [N][4]
  F32 dloss;
  F32 o;
  uint rows;
  uint grad;
} p;

shared float redL[128];
shared float redW[128];

void main() {
  uint t = gl_LocalInvocationID.x;
  float l = 0.0, w = 0.0;
  for (uint r = t; r < p.rows; r += 128) {
    l += p.stats.v[4 * r + 1];
    w += p.stats.v[4 * r + 2];
  }
  redL[t] = l;
  redW[t] = w;
  barrier();
  for (uint k = 64; k > 0; k >>= 1) {
    if (t < k) {
      redL[t] += redL[t + k];
      redW[t] += redW[t + k];
    }
    barrier();
  }
  if (t == 0) {
    float sw = redW[0];
    if (p.grad != 0)
      p.o.v[0] = sw == 0.0 ? 0.0 : p.dloss.v[0] / sw;
    else
      p.o.v[0] = sw == 0.0 ? 0.0 : redL[0] / sw;
  }
}
