#version 460
#include "common.glsl"
// position_embedding: y[b, t] = table[start[b] + t] (start 0 when absent).
// Positions are clamped to the table; the host checks starts it can see.
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
  F32 table;
  I32 start; // valid only if hasStart
  F32 y;
  uint n; // B * T * D
  uint T;
  uint D;
  uint C;
  uint hasStart;
} p;
void main() {
  GRID_STRIDE(i, p.n) {
    uint r = i / p.D, d = i - r * p.D;
    uint b = r / p.T, t = r - b * p.T;
    int pos = int(t) + (p.hasStart != 0 ? p.start.v[b] : 0);
    pos = clamp(pos, 0, int(p.C) - 1);
    p.y.v[i] = p.table.v[uint(pos) * p.D + d];
  }
}
