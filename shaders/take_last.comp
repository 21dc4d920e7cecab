#version 460
#include "common.glsl"
// take_last: y[b, d] = x[b, T - 1, d].
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
  I32 x;
  I32 y;
  uint n; // B * D
  uint T;
  uint D;
} p;
void main() {
  GRID_STRIDE(i, p.n) {
    uint b = i / p.D, d = i - b * p.D;
    p.y.v[i] = p.x.v[(b * p.T + p.T - 1) * p.D + d];
  }
}
