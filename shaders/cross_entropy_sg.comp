#version 460
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common.glsl"
// cross_entropy pass 1 with subgroup arithmetic (picked by the host when the
// device has it, subgroup size >= 4, a power of two and <= 128): as
// cross_entropy.comp, but the threads' online (max, sum of exp) pairs are
// reduced per subgroup (subgroupMax, then subgroupAdd of the sums rescaled
// to it) and the gl_NumSubgroups pairs merged in subgroup order from shared
// memory (deterministic on a device). Writes
//   stats[r] = (lse, w * (lse - logit[t]), w)
// with w = weight (1 without weights) and 0 for an ignored (negative) target;
// a target >= V (checked on the host when it can see the targets) is treated
// as ignored here so nothing is read out of bounds.
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

shared float redM[32]; // one per subgroup (size >= 4)
shared float redS[32];



void main() {
  uint t = gl_LocalInvocationID.x, V = p.V;
  for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
    uint base = r * V;
    float m = NEG_BIG, s = 0.0;
    for (uint j = t; j < V; j += 128)
      osmPush(m, s, p.logits.v[base + j]);
    float sm = subgroupMax(m);
    float ss = subgroupAdd(m <= NEG_HALF ? 0.0 : s * exp(m - sm));
    if (gl_SubgroupInvocationID == 0) {
      redM[gl_SubgroupID] = sm;
      redS[gl_SubgroupID] = ss;
    }
    barrier();
    if (t == 0) {
      m = NEG_BIG;
      s = 0.0;
      for (uint i = 0; i < gl_NumSubgroups; ++i)
        osmMerge(m, s, redM[i], redS[i]);
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
