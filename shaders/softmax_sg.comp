#version 460
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common.glsl"
// softmax over contiguous rows with subgroup arithmetic (picked by the host
// when the device has it, subgroup size >= 4, a power of two and <= 128):
// each thread keeps an online (max, sum of exp) pair; a subgroup takes the
// max of its maxima (subgroupMax), rescales its sums to it and adds them
// (subgroupAdd); the gl_NumSubgroups pairs are merged in subgroup order from
// shared memory (deterministic on a device).
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 x;
  F32 y;
  uint rows;
  uint len;
} p;

shared float redM[32]; // one per subgroup (size >= 4)
shared float redS[32];

// Merges every thread's pair into the workgroup's; workgroup-uniform flow.
void wgMerge(inout float m, inout float s) {
  float sm = subgroupMax(m);
  float ss = subgroupAdd(m <= NEG_HALF ? 0.0 : s * exp(m - sm));
  if (gl_SubgroupInvocationID == 0) {
    redM[gl_SubgroupID] = sm;
    redS[gl_SubgroupID] = ss;
  }
  barrier();
  m = NEG_BIG;
  s = 0.0;
  for (uint i = 0; i < gl_NumSubgroups; ++i)
    osmMerge(m, s, redM[i], redS[i]);
  barrier();
}

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
