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

#define NEG_INF uintBitsToFloat(0xff800000u)
shared float redM[32]; // one per subgroup (size >= 4)
shared float redS[32];

void pushOne(inout float m, inout float s, float x) {
  if (x > m) {
    s = s * exp(m - x) + 1.0;
    m = x;
  } else if (x > NEG_INF) {
    s += exp(x - m);
  }
}

void merge(inout float m, inout float s, float m2, float s2) {
  float mn = max(m, m2);
  if (mn == NEG_INF)
    return;
  s = s * exp(m - mn) + s2 * exp(m2 - mn);
  m = mn;
}

void main() {
  uint t = gl_LocalInvocationID.x, V = p.V;
  for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
    uint base = r * V;
    float m = NEG_INF, s = 0.0;
    for (uint j = t; j < V; j += 128)
      pushOne(m, s, p.logits.v[base + j]);
    float sm = subgroupMax(m);
    float ss = subgroupAdd(m == NEG_INF ? 0.0 : s * exp(m - sm));
    if (gl_SubgroupInvocationID == 0) {
      redM[gl_SubgroupID] = sm;
      redS[gl_SubgroupID] = ss;
    }
    barrier();
    if (t == 0) {
      m = NEG_INF;
      s = 0.0;
      for (uint i = 0; i < gl_NumSubgroups; ++i)
        merge(m, s, redM[i], redS[i]);
      float lse = m + log(s);
      int tg = p.targets.v[r];
      bool valid = tg >= 0 && uint(tg) < V;
      float w = valid ? (p.hasWeights != 0 ? p.weights.v[r] : 1.0) : 0.0;
      float l = valid ? w * (lse - p.logits.v[base + uint(tg)]) : 0.0;
      p.stats.v[4 * r] = lse;
      p.stats.v[4 * r + 1] = l;
      p.stats.v[4 * r + 2] = w;
      p.stats.v[4 * r + 3] = 0.0;
    }
    barrier();
  }
}
