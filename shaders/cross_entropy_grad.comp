#version 460
#include "common.glsl"
// cross_entropy_grad pass 3, one workgroup per row:
//   dlogits[r, v] = c * w * (exp(logit - lse) - [v == t]),  c = dloss / sum(w)
// and a zero row for an ignored (or out-of-range) target or a row whose
// logits are all -inf (pass 1 gave it lse = NEG_BIG and weight 0).
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 logits;
  I32 targets;
  F32 weights;
  F32 stats;  // [N][4] from pass 1
  F32 factor; // [1] from pass 2
  F32 dlogits;
  uint rows;
  uint V;
  uint hasWeights;
  uint pad;
} p;

void main() {
  uint t = gl_LocalInvocationID.x, V = p.V;
  float c = p.factor.v[0];
  for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
    uint base = r * V;
    int tg = p.targets.v[r];
    bool valid = tg >= 0 && uint(tg) < V;
    float scale = valid ? c * (p.hasWeights != 0 ? p.weights.v[r] : 1.0) : 0.0;
    float lse = p.stats.v[4 * r];
    for (uint j = t; j < V; j += 128) {
      float d = 0.0;
      if (scale != 0.0 && lse > NEG_HALF) { // not an all-masked row
        d = scale * osmProb(p.logits.v[base + j], lse, 1.0);
        if (int(j) == tg)
          d -= scale;
      }
      p.dlogits.v[base + j] = d;
    }
  }
}
