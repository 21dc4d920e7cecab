#version 460
#include "common.glsl"
#include "reduce.glsl"
// variants: _sg=GPT_SUBGROUP
// softmax over contiguous rows (axis is the last, or only 1s after it): one
// workgroup per row; each thread keeps an online (max, sum of exp) pair, and
// reduce.glsl's wgMerge combines the pairs deterministically (tree, or
// subgroup arithmetic in the softmax_sg variant).
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 x;
  F32 y;
  uint rows;
  uint len;
} p;

void main() {
  uint t = gl_LocalInvocationID.x, len = p.len;
  for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
    uint base = r * len;
    float m = NEG_BIG, s = 0.0;
    for (uint j = t; j < len; j += 128)
      osmPush(m, s, p.x.v[base + j]);
    wgMerge(m, s);
    float inv = m <= NEG_HALF ? 0.0 : 1.0 / s; // empty row: zeros
    for (uint j = t; j < len; j += 128)
      p.y.v[base + j] = osmProb(p.x.v[base + j], m, inv);
  }
}
