#version 460
#include "common.glsl"
// layernorm_grad column pass 1: block y of `rowsPerBlock` rows writes its own
// partial sums of dy * xhat (dgamma) and dy (dbeta) per column into
// partial[block][2][D]; layernorm_grad_reduce adds the blocks in order, so
// the result is the same on every run (no float atomics).
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 dy;
  F32 x;
  F32 stats; // [rows][2]: mean, rstd
  F32 partial;
  uint rows;
  uint D;
  uint rowsPerBlock;
  uint pad;
} p;

void main() {
  uint D = p.D;
  GRID_STRIDE(c, D) {
    for (uint blk = gl_WorkGroupID.y; blk * p.rowsPerBlock < p.rows;
         blk += gl_NumWorkGroups.y) {
      uint r0 = blk * p.rowsPerBlock, r1 = min(p.rows, r0 + p.rowsPerBlock);
      float g = 0.0, b = 0.0;
      for (uint r = r0; r < r1; ++r) {
        float d = p.dy.v[r * D + c];
        float xhat = (p.x.v[r * D + c] - p.stats.v[2 * r]) * p.stats.v[2 * r + 1];
        g += d * xhat;
        b += d;
      }
      p.partial.v[(2 * blk) * D + c] = g;
      p.partial.v[(2 * blk + 1) * D + c] = b;
    }
  }
}
