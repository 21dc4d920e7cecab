#version 460
#include "common.glsl"
// copy: y = x (any 4-byte dtype, copied as bits).
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
  I32 x;
  I32 y;
  uint n;
} p;
void main() {
  GRID_STRIDE(i, p.n) { p.y.v[i] = p.x.v[i]; }
}
