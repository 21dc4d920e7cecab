#version 460
#include "common.glsl"
// layernorm_grad column pass 2: dgamma[c], dbeta[c] = sums of the blocks'
// partials in block order.
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 partial;
  F32 dgamma;
  F32 dbeta;
  uint D;
  uint blocks;
  uint hasDgamma;
  uint hasDbeta;
} p;

void main() {
  GRID_STRIDE(c, p.D) {
    float g = 0.0, b = 0.0;
    for (uint blk = 0; blk < p.blocks; ++blk) {
      g += p.partial.v[(2 * blk) * p.D + c];
      b += p.partial.v[(2 * blk + 1) * p.D + c];
    }
    if (p.hasDgamma != 0)
      p.dgamma.v[c] = g;
    if (p.hasDbeta != 0)
      p.dbeta.v[c] = b;
  }
}
