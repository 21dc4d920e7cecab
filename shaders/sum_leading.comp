#version 460
#include "common.glsl"
// sum_leading: y[j] = sum over rows r in [r0, r1) of x[r, j], rows in
// order. Pass 1 sums chunks of `chunk` rows into partials [chunks, S]; pass
// 2 (x = partials) sums those in order: deterministic, no atomics.
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
  F32 x;
  F32 y;
  uint S;
  uint R;
  uint chunk;
  uint chunks;
} p;
void main() {
  GRID_STRIDE(i, p.S * p.chunks) {
    uint c = i / p.S, j = i - c * p.S;
    uint r0 = c * p.chunk, r1 = min(p.R, r0 + p.chunk);
    float acc = 0.0;
    for (uint r = r0; r < r1; ++r)
      acc += p.x.v[r * p.S + j];
    p.y.v[i] = acc;
  }
}
