#version 460
#include "common.glsl"
#include "reduce.glsl"
// variants: _sg=GPT_SUBGROUP
// cross_entropy pass 1, one workgroup per row of logits [N, V] (V may be
// 50257: each thread walks the row with an online max/sum-of-exp pair,
// merged by reduce.glsl's wgMerge: tree, or subgroup arithmetic in the
// cross_entropy_sg variant):
//   stats[r] = (lse, w * (lse - logit[t]), w)
// with w = weight (1 without weights) and 0 for an ignored (negative) target
// or a row whose logits are all -inf (lse is then NEG_BIG; see common.glsl).
// A target >= V (checked on the host when it can see the targets) is
// treated as ignored here so nothing is read out of bounds.
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 logits;
  I32 targets;
  F32 weights;
  F32 stats; // [N][4]
  uint rows;
  uint V;
  uint hasWeights;
  uint pad;
} p;

void main() {
  uint t = gl_LocalInvocationID.x, V = p.V;
  for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
    uint base = r * V;
    float m = NEG_BIG, s = 0.0;
    for (uint j = t; j < V; j += 128)
      osmPush(m, s, p.logits.v[base + j]);
    wgMerge(m, s);
    if (t == 0) {
      // A row whose logits are all masked (-inf) is treated as ignored.
      bool empty = m <= NEG_HALF;
      float lse = empty ? NEG_BIG : m + log(s);
      int tg = p.targets.v[r];
      bool valid = !empty && tg >= 0 && uint(tg) < V;
      float w = valid ? (p.hasWeights != 0 ? p.weights.v[r] : 1.0) : 0.0;
      float l = valid
                    ? w * (lse - max(p.logits.v[base + uint(tg)], NEG_BIG))
                    : 0.0;
      p.stats.v[4 * r] = lse;
      p.stats.v[4 * r + 1] = l;
      p.stats.v[4 * r + 2] = w;
      p.stats.v[4 * r + 3] = 0.0;
    }
    barrier();
  }
}
