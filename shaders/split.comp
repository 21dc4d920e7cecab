#version 460
#include "common.glsl"
// split / concat: moves one part [outer, n] to or from its columns
// [offset, offset + n) of the whole [outer, rowLen] (4-byte elements, bits).
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
  I32 whole;
  I32 part;
  uint total;  // outer * n
  uint n;      // part elements per outer index
  uint rowLen; // whole elements per outer index
  uint offset;
  uint toWhole; // 1: concat (part -> whole), 0: split
} p;
void main() {
  GRID_STRIDE(i, p.total) {
    uint o = i / p.n, j = i - o * p.n;
    uint w = o * p.rowLen + p.offset + j;
    if (p.toWhole != 0)
      p.whole.v[w] = p.part.v[i];
    else
      p.part.v[i] = p.whole.v[w];
  }
}
