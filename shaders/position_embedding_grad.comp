#version 460
#include "common.glsl"
// position_embedding_grad: dtable[t] = sum_b dy[b, t] (b in order), rows
// t >= T zero.
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
  F32 dy;
  F32 dt;
  uint n; // C * D
  uint B;
  uint T;
  uint D;
} p;
void main() {
  GRID_STRIDE(i, p.n) {
    uint t = i / p.D, d = i - t * p.D;
    float acc = 0.0;
    if (t < p.T)
      for (uint b = 0; b < p.B; ++b)
        acc += p.dy.v[(b * p.T + t) * p.D + d];
    p.dt.v[i] = acc;
  }
}
