#version 460
#include "common.glsl"
// Batched 2-d transpose through shared memory: x [batch, R, C] -> y
// [batch, C, R] with coalesced reads and writes (the host reduces any
// permutation that swaps two merged blocks of dims to this form).
layout(local_size_x = 32, local_size_y = 8) in;
layout(push_constant) uniform Push {
  I32 x;
  I32 y;
  uint R;
  uint C;
  uint batch;
} p;
shared int tile[32][33];
void main() {
  uint r0 = gl_WorkGroupID.y * 32, c0 = gl_WorkGroupID.x * 32;
  for (uint b = gl_WorkGroupID.z; b < p.batch; b += gl_NumWorkGroups.z) {
    uint base = b * p.R * p.C;
    for (uint k = gl_LocalInvocationID.y; k < 32; k += 8) {
      uint r = r0 + k, c = c0 + gl_LocalInvocationID.x;
      if (r < p.R && c < p.C)
        tile[k][gl_LocalInvocationID.x] = p.x.v[base + r * p.C + c];
    }
    barrier();
    for (uint k = gl_LocalInvocationID.y; k < 32; k += 8) {
      uint c = c0 + k, r = r0 + gl_LocalInvocationID.x;
      if (r < p.R && c < p.C)
        p.y.v[base + c * p.R + r] = tile[gl_LocalInvocationID.x][k];
    }
    barrier();
  }
}
