#version 460
#include "common.glsl"
// softmax_grad over contiguous rows: dx = y * (dy - sum(dy * y)); one
// workgroup per row, fixed tree reduction.
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 dy;
  F32 y;
  F32 dx;
  uint rows;
  uint len;
} p;

shared float red[128];

void main() {
  uint t = gl_LocalInvocationID.x, len = p.len;
  for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
    uint base = r * len;
    float dot = 0.0;
    for (uint j = t; j < len; j += 128)
      dot += p.dy.v[base + j] * p.y.v[base + j];
    red[t] = dot;
    barrier();
    for (uint k = 64; k > 0; k >>= 1) {
      if (t < k)
        red[t] += red[t + k];
      barrier();
    }
    dot = red[0];
    barrier();
    for (uint j = t; j < len; j += 128)
      p.dx.v[base + j] = p.y.v[base + j] * (p.dy.v[base + j] - dot);
  }
}
