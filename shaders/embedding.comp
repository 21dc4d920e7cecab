#version 460
#include "common.glsl"
// embedding: y[r] = table[ids[r]]. The host checks ids it can see; ids made
// on the device are clamped so nothing is read out of bounds.
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
  F32 table;
  I32 ids;
  F32 y;
  uint n; // rows * D
  uint D;
  uint V;
} p;
void main() {
  GRID_STRIDE(i, p.n) {
    uint r = i / p.D, d = i - r * p.D;
    int id = clamp(p.ids.v[r], 0, int(p.V) - 1);
    p.y.v[i] = p.table.v[uint(id) * p.D + d];
  }
}
