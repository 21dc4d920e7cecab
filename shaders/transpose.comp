#version 460
#include "common.glsl"
// transpose: y[i] = x[source offset of i], any 4-byte dtype, rank <= 8
// (after the host merged dims that stay adjacent).
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
  I32 x;
  I32 y;
  uint n;
  uint rank;
  uint dims[8];      // y's shape
  uint srcStride[8]; // x stride of each y dim
} p;
void main() {
  GRID_STRIDE(i, p.n) {
    uint rem = i, off = 0;
    for (int d = int(p.rank) - 1; d >= 0; --d) {
      uint q = rem / p.dims[d];
      off += (rem - q * p.dims[d]) * p.srcStride[d];
      rem = q;
    }
    p.y.v[i] = p.x.v[off];
  }
}
