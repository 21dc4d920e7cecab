#version 460
#include "common.glsl"
// fill: every element = value (f32 or i32 bits).
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
  I32 y;
  uint n;
  int bits;
} p;
void main() {
  GRID_STRIDE(i, p.n) { p.y.v[i] = p.bits; }
}
