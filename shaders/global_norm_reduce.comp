#version 460
#include "common.glsl"
// global_norm pass 2, one workgroup: norm = sqrt(sum of the chunk partials),
// summed in a fixed order (strided per thread, then a tree).
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 partial;
  F32 norm;
  uint chunks;
  uint pad;
} p;

shared float red[128];

void main() {
  uint t = gl_LocalInvocationID.x;
  float s = 0.0;
  for (uint c = t; c < p.chunks; c += 128)
    s += p.partial.v[c];
  red[t] = s;
  barrier();
  for (uint k = 64; k > 0; k >>= 1) {
    if (t < k)
      red[t] += red[t + k];
    barrier();
  }
  if (t == 0)
    p.norm.v[0] = sqrt(red[0]);
}
