#version 460
#include "common.glsl"
// causal_mask over x [..., T, S]: y = fill where j > i + S - T, else x.
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 x;
  F32 y;
  uint n;
  uint T;
  uint S;
  float fill;
} p;

void main() {
  GRID_STRIDE(e, p.n) {
    uint row = e / p.S;
    int i = int(row % p.T), j = int(e % p.S);
    p.y.v[e] = j > i + int(p.S) - int(p.T) ? p.fill : p.x.v[e];
  }
}
